"""Every sealed value is rotated, abandoned sign-ins are purged, and unreadable tokens end cleanly."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from connections import vault
from connections.models import OAuthAttempt
from connections.oauth import oauth_attempts_purge
from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import StaffFactory
from socialcrm.celery import app as celery_app

OLD = "old:" + "C" * 43
NEW = "new:" + "D" * 43
GONE = "gone:" + "E" * 43

pytestmark = pytest.mark.django_db


def _attempt(tenant, *, verifier="verifier-secret", offer=None, age=timedelta(0)):
    user = StaffFactory(tenant=tenant).user
    attempt = OAuthAttempt(state=f"state-{user.pk}", tenant=tenant, user=user, session_key="s", platform="TWITTER",
                           redirect_uri="http://testserver/connections/callback/twitter/")
    attempt.seal("code_verifier", verifier)
    if offer is not None:
        attempt.seal("offered_accounts", json.dumps(offer))
    attempt.save()
    if age:
        OAuthAttempt.objects.filter(pk=attempt.pk).update(created_at=timezone.now() - age)
    return attempt


def test_rotation_reencrypts_oauth_attempts_too_and_reports_counts_per_field(settings, tenant):
    settings.TOKEN_ENCRYPTION_KEYS = OLD
    SocialConnectionFactory(tenant=tenant, tokens=("access-1", "refresh-1"))
    SocialConnectionFactory(tenant=tenant, tokens=("access-2", None))
    attempt = _attempt(tenant, offer={"accounts": [{"access_token": "offered-token"}]})
    settings.TOKEN_ENCRYPTION_KEYS = f"{NEW},{OLD}"
    out = io.StringIO()
    call_command("rotate_token_keys", stdout=out)
    report = out.getvalue()
    assert "connections.SocialConnection.access_token: 2 re-encrypted, 0 already under 'new', 0 unreadable." in report
    assert "connections.SocialConnection.refresh_token: 1 re-encrypted" in report
    assert "connections.OAuthAttempt.code_verifier: 1 re-encrypted" in report
    assert "connections.OAuthAttempt.offered_accounts: 1 re-encrypted" in report

    settings.TOKEN_ENCRYPTION_KEYS = NEW  # the old key is gone: everything still opens
    attempt.refresh_from_db()
    assert vault.key_id_of(attempt.code_verifier) == "new"
    assert attempt.reveal("code_verifier") == "verifier-secret"
    assert json.loads(attempt.reveal("offered_accounts"))["accounts"][0]["access_token"] == "offered-token"

    out = io.StringIO()
    call_command("rotate_token_keys", stdout=out)
    assert "connections.OAuthAttempt.code_verifier: 0 re-encrypted, 1 already under 'new'" in out.getvalue()


def test_rotation_names_each_value_it_cannot_decrypt(settings, tenant):
    settings.TOKEN_ENCRYPTION_KEYS = GONE
    lost = _attempt(tenant)
    settings.TOKEN_ENCRYPTION_KEYS = NEW
    with pytest.raises(CommandError, match=f"could not be decrypted.*connections.OAuthAttempt.code_verifier {lost.pk}"):
        call_command("rotate_token_keys", stdout=io.StringIO())
    lost.refresh_from_db()
    assert vault.key_id_of(lost.code_verifier) == "gone"  # left untouched for when the key comes back


def test_abandoned_oauth_attempts_are_purged_after_their_life(settings, tenant):
    settings.OAUTH_STATE_TTL_SECONDS = 600
    abandoned = _attempt(tenant, age=timedelta(seconds=601))
    fresh = _attempt(tenant, age=timedelta(seconds=30))
    assert oauth_attempts_purge() == 1
    assert not OAuthAttempt.objects.filter(pk=abandoned.pk).exists()
    assert OAuthAttempt.objects.filter(pk=fresh.pk).exists()


def test_purge_runs_on_a_schedule():
    call_command("setup_periodic_tasks", stdout=io.StringIO())
    task = PeriodicTask.objects.get(task="connections.purge_oauth_attempts")
    assert task.enabled and "connections.purge_oauth_attempts" in celery_app.tasks
