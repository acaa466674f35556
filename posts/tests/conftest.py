import uuid

import pytest

from connections.tests.factories import SocialConnectionFactory

MAIN_ACCOUNT = {"facebook": "2001", "instagram": "17841400000000001", "twitter": "1500000000000000001",
                "linkedin": "3001"}
REDIRECT = "http://testserver/connections/callback/{slug}/"


@pytest.fixture
def connect(simulator, simulator_settings, settings, club):
    """Connect ``slug``'s main simulated account through the real OAuth flow; returns a SocialConnection."""
    from django.core.cache import cache

    from platforms import adapter_for_slug
    from platforms.tests.contract import click_consent, query_of

    cache.clear()
    settings.MEDIA_PROCESSING_POLL_INTERVAL = 0.02
    settings.X_MEDIA_POLL_INTERVAL = 0.05

    def _connect(slug="twitter", *, club=club):
        adapter = adapter_for_slug(slug)
        state, verifier = uuid.uuid4().hex, adapter.new_code_verifier()
        redirect = REDIRECT.format(slug=slug)
        location = click_consent(adapter.authorization_url(redirect_uri=redirect, state=state,
                                                           code_verifier=verifier))
        tokens = adapter.exchange_code(code=query_of(location)["code"], redirect_uri=redirect,
                                       code_verifier=verifier)
        account = next(a for a in adapter.list_accounts(tokens=tokens) if a.account_id == MAIN_ACCOUNT[slug])
        return SocialConnectionFactory(
            club=club, tenant=club.tenant, platform=adapter.platform, account_id=account.account_id,
            account_name=account.name, account_type=adapter.account_type, permissions=account.permissions,
            account_details=account.details, token_expiry=account.expires_at,
            tokens=(account.access_token, account.refresh_token))

    return _connect


@pytest.fixture
def eager_celery():
    """Publish tasks run in the calling thread (after commit), as a worker would run them."""
    from socialcrm.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous
