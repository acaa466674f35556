"""Deactivating a connection asks first; reconnecting lifts the block on posts refused for a permission."""

import pytest
from django.test import Client
from django.urls import reverse

from connections.models import SocialConnection
from connections.tests.factories import SocialConnectionFactory
from connections.tests.helpers import back_from_platform, connect, start
from crm.tests.factories import ClubFactory, StaffFactory
from platforms.tests.contract import click_consent
from posts.models import PublishErrorKind as K
from posts.models import SocialPostStatus as S
from posts.states import allowed_actions
from posts.tests.factories import SocialPostFactory
from simulator import world

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(settings, simulator_settings):
    settings.SITE_URL = "http://testserver"
    club = ClubFactory(name="Pinewood Golf Club")
    client = Client()
    client.force_login(StaffFactory(tenant=club.tenant, user__username="alex").user)
    return {"client": client, "club": club}


def test_deactivating_asks_first_and_says_what_happens_to_scheduled_posts(staff):
    conn = SocialConnectionFactory(club=staff["club"], tenant=staff["club"].tenant, account_name="Pinewood page")
    SocialPostFactory(connection=conn, status=S.SCHEDULED)
    url = reverse("connections:deactivate", args=[conn.pk])
    for response in (staff["client"].get(url), staff["client"].post(url)):  # the list's button posts without asking
        page = response.content.decode()
        assert response.status_code == 200 and "Deactivate Facebook account “Pinewood page”?" in page
        assert "1 scheduled or draft post will not be published" in page and 'name="confirm" value="yes"' in page
    conn.refresh_from_db()
    assert conn.is_active
    response = staff["client"].post(url, {"confirm": "yes"})
    conn.refresh_from_db()
    assert response.status_code == 302 and not conn.is_active


def test_deactivate_confirm_page_is_tenant_scoped(staff):
    theirs = SocialConnectionFactory()
    assert staff["client"].get(reverse("connections:deactivate", args=[theirs.pk])).status_code == 404
    assert staff["client"].post(reverse("connections:deactivate", args=[theirs.pk]),
                                {"confirm": "yes"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.is_active


def test_reconnecting_lets_posts_refused_for_a_permission_be_retried(staff, simulator):
    connect(staff["client"], "twitter", [world.X_USER_ID])
    conn = SocialConnection.objects.get()
    refused = SocialPostFactory(connection=conn, status=S.FAILED, error_kind=K.PERMISSION,
                                error="X needs the “Post and repost for you” permission. Reconnect the account and tick it.")
    duplicate = SocialPostFactory(connection=conn, status=S.FAILED, error_kind=K.DUPLICATE, error="Duplicate.")
    assert "retry" not in allowed_actions(refused.status, refused.error_kind)
    callback = back_from_platform(staff["client"], click_consent(start(staff["client"], "twitter", reconnect=conn.pk)))
    staff["client"].post(callback["Location"], {"account": [world.X_USER_ID]})
    refused.refresh_from_db()
    duplicate.refresh_from_db()
    assert refused.status == S.FAILED and "retry" in allowed_actions(refused.status, refused.error_kind)
    assert "retry" not in allowed_actions(duplicate.status, duplicate.error_kind)  # a reconnect changes no text
