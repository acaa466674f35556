import threading
from datetime import timedelta

import pytest
from django.db import connection as db
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from connections import tasks
from connections.models import SocialConnection
from connections.selectors import Health, connection_health
from connections.services import connection_refresh_tokens, connections_due_for_refresh
from connections.tests.factories import SocialConnectionFactory
from connections.tests.helpers import connect
from crm.models import StaffRole
from crm.services import staff_create
from crm.tests.factories import ClubFactory, StaffFactory
from platforms import AuthExpired, get_adapter
from platforms.base import Credentials
from posts.tests.factories import SocialPostFactory
from simulator import world

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(simulator_settings, settings):
    settings.SITE_URL = "http://testserver"
    club = ClubFactory()
    membership = StaffFactory(tenant=club.tenant)
    client = Client()
    client.force_login(membership.user)
    return {"client": client, "club": club, "tenant": club.tenant, "user": membership.user}


def connected(staff, slug, account):
    connect(staff["client"], slug, [account])
    return SocialConnection.objects.get(account_id=account)


def test_refresh_task_rotates_x_tokens_and_the_old_refresh_token_is_never_used_again(staff, simulator):
    conn = connected(staff, "twitter", world.X_USER_ID)
    old_access, old_refresh = conn.reveal_access_token(), conn.reveal_refresh_token()
    assert conn.pk not in {pk for pk, _ in connections_due_for_refresh()}  # fresh: 2 h left
    simulator.advance_clock(7200 - 10 * 60)  # 10 minutes before expiry
    SocialConnection.objects.filter(pk=conn.pk).update(token_expiry=timezone.now() + timedelta(minutes=10))
    assert tasks.refresh_connection_tokens(connection_id=str(conn.pk), tenant_id=conn.tenant_id) == "refreshed"
    conn.refresh_from_db()
    assert conn.reveal_refresh_token() != old_refresh and conn.reveal_access_token() != old_access
    assert conn.token_expiry > timezone.now() + timedelta(minutes=100)
    # The spent refresh token is refused by the platform, and we never send it again.
    with pytest.raises(AuthExpired):
        get_adapter("TWITTER").refresh(credentials=Credentials(world.X_USER_ID, old_access, old_refresh))
    refreshes = [r for r in simulator.requests("twitter") if r["path"] == "/2/oauth2/token" and r["status"] == 200]
    assert len(refreshes) == 2  # the code exchange, then one refresh
    # A second run is not due any more and makes no call.
    assert tasks.refresh_connection_tokens(connection_id=str(conn.pk), tenant_id=conn.tenant_id) == "not-needed"


@pytest.mark.skipif("db.vendor != 'postgresql'", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_workers_refreshing_at_once_spend_the_refresh_token_once(staff, simulator):
    conn = connected(staff, "twitter", world.X_USER_ID)
    errors, barrier = [], threading.Barrier(2)

    def worker():
        try:
            # Both workers hold the same (about to be spent) tokens before either refreshes, as two workers
            # picking the same due connection do; reading after the barrier would let a slow thread see the
            # first one's new tokens and make a legitimate second refresh.
            same_tokens = SocialConnection.objects.get(pk=conn.pk)
            barrier.wait()
            connection_refresh_tokens(connection=same_tokens)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    refreshes = [r for r in simulator.requests("twitter") if r["path"] == "/2/oauth2/token" and "refresh_token" in str(r.get("body"))]
    assert len(refreshes) == 1
    conn.refresh_from_db()
    get_adapter("TWITTER").refresh(credentials=Credentials(world.X_USER_ID, conn.reveal_access_token(), conn.reveal_refresh_token()))


def test_revoked_token_leads_to_needs_reconnect(staff, simulator):
    conn = connected(staff, "twitter", world.X_USER_ID)
    simulator.revoke_tokens("twitter")
    SocialConnection.objects.filter(pk=conn.pk).update(token_expiry=timezone.now() + timedelta(minutes=5))
    assert tasks.refresh_connection_tokens(connection_id=str(conn.pk), tenant_id=conn.tenant_id) == "needs-reconnect"
    conn.refresh_from_db()
    assert not conn.is_active and conn.last_error and conn.last_error_at
    assert connection_health(conn) == Health.NEEDS_RECONNECT
    page = staff["client"].get(reverse("connections:list")).content.decode()
    assert "Needs reconnect" in page and f"?reconnect={conn.pk}" in page
    dashboard = staff["client"].get(reverse("dashboard")).content.decode()
    assert 'data-health="needs_reconnect"' in dashboard and "Needs reconnect" in dashboard


def test_facebook_tokens_are_checked_daily_and_a_dead_one_needs_reconnect(staff, simulator):
    conn = connected(staff, "facebook", world.PAGE_MAIN_ID)
    assert conn.pk not in {pk for pk, _ in connections_due_for_refresh()}
    SocialConnection.objects.filter(pk=conn.pk).update(token_checked_at=timezone.now() - timedelta(days=2))
    assert tasks.refresh_connection_tokens(connection_id=str(conn.pk), tenant_id=conn.tenant_id) == "refreshed"
    SocialConnection.objects.filter(pk=conn.pk).update(token_checked_at=timezone.now() - timedelta(days=2))
    simulator.revoke_tokens("facebook")
    assert tasks.refresh_connection_tokens(connection_id=str(conn.pk), tenant_id=conn.tenant_id) == "needs-reconnect"
    conn.refresh_from_db()
    assert not conn.is_active


def test_fan_out_enqueues_one_task_per_due_connection(staff, simulator, settings, monkeypatch):
    conn = connected(staff, "linkedin", "3001")
    SocialConnection.objects.filter(pk=conn.pk).update(token_expiry=timezone.now() + timedelta(days=3))
    sent = []
    monkeypatch.setattr(tasks.refresh_connection_tokens, "delay", lambda **kw: sent.append(kw))
    assert tasks.refresh_expiring_tokens() == 1
    assert sent == [{"connection_id": str(conn.pk), "tenant_id": conn.tenant_id}]


def test_health_statuses():
    now = timezone.now()
    fine = SocialConnectionFactory.build(platform="FACEBOOK", permissions=["pages_manage_posts", "pages_read_engagement"])
    assert connection_health(fine, now=now) == Health.ACTIVE
    missing = SocialConnectionFactory.build(platform="FACEBOOK", permissions=["pages_read_engagement"])
    assert connection_health(missing, now=now) == Health.MISSING_PERMISSIONS
    expiring = SocialConnectionFactory.build(platform="LINKEDIN", permissions=["w_organization_social"],
                                             token_expiry=now + timedelta(days=3), tokens=("access", None))
    assert connection_health(expiring, now=now) == Health.EXPIRING_SOON
    renewing = SocialConnectionFactory.build(platform="TWITTER", permissions=["tweet.read", "tweet.write"],
                                             token_expiry=now + timedelta(minutes=30), tokens=("access", "refresh"))
    assert connection_health(renewing, now=now) == Health.ACTIVE
    dead = SocialConnectionFactory.build(is_active=False)
    assert connection_health(dead, now=now) == Health.NEEDS_RECONNECT


def test_delete_tells_how_many_scheduled_posts_go_and_revokes(staff, simulator):
    conn = connected(staff, "twitter", world.X_USER_ID)
    SocialPostFactory.create_batch(3, connection=conn, status="SCHEDULED", scheduled_at=timezone.now() + timedelta(days=1))
    SocialPostFactory(connection=conn, status="PUBLISHED")
    confirm = staff["client"].get(reverse("connections:delete", args=[conn.pk])).content.decode()
    assert "3 scheduled or draft posts will be removed" in confirm
    response = staff["client"].post(reverse("connections:delete", args=[conn.pk]), follow=True)
    assert "Access was revoked at X (Twitter)" in response.content.decode()
    assert not SocialConnection.objects.exists()
    assert any(r["path"] == "/2/oauth2/revoke" for r in simulator.requests("twitter"))


def test_deactivate_keeps_history(staff, simulator):
    conn = connected(staff, "facebook", world.PAGE_MAIN_ID)
    SocialPostFactory(connection=conn, status="PUBLISHED")
    staff["client"].post(reverse("connections:deactivate", args=[conn.pk]), {"confirm": "yes"})
    conn.refresh_from_db()
    assert not conn.is_active and conn.posts.count() == 1


def test_another_tenant_cannot_see_change_or_delete_a_connection(staff, simulator):
    conn = connected(staff, "facebook", world.PAGE_MAIN_ID)
    intruder = StaffFactory(tenant=ClubFactory().tenant).user
    pages = Client()
    pages.force_login(intruder)
    assert world.PAGE_MAIN_ID not in pages.get(reverse("connections:list")).content.decode()
    assert pages.get(reverse("connections:delete", args=[conn.pk])).status_code == 404
    assert pages.post(reverse("connections:delete", args=[conn.pk])).status_code == 404
    assert pages.post(reverse("connections:deactivate", args=[conn.pk])).status_code == 404
    assert pages.get(reverse("connections:connect", args=["twitter"]), {"reconnect": conn.pk}).status_code == 404
    api = APIClient()
    api.force_authenticate(intruder)
    assert api.get(f"/api/v1/connections/{conn.pk}/").status_code == 404
    assert api.post(f"/api/v1/connections/{conn.pk}/deactivate/").status_code == 404
    assert api.delete(f"/api/v1/connections/{conn.pk}/").status_code == 404
    staff_create(tenant_id=intruder.membership.tenant_id, username="other-admin", password="pw-123456", role=StaffRole.ADMIN)
    admin = Client()
    admin.login(username="other-admin", password="pw-123456")
    assert admin.get(reverse("admin:connections_socialconnection_change", args=[conn.pk])).status_code == 302
    admin.post(reverse("admin:connections_socialconnection_changelist"),
               {"action": "deactivate", "_selected_action": [str(conn.pk)]})
    conn.refresh_from_db()
    assert conn.is_active


def test_api_filters_deactivate_and_delete(staff, simulator):
    fb = connected(staff, "facebook", world.PAGE_MAIN_ID)
    x = connected(staff, "twitter", world.X_USER_ID)
    api = APIClient()
    api.force_authenticate(staff["user"])
    assert [row["id"] for row in api.get("/api/v1/connections/", {"platform": "TWITTER"}).json()["results"]] == [str(x.pk)]
    body = api.post(f"/api/v1/connections/{fb.pk}/deactivate/").json()
    assert body["is_active"] is False and body["health"] == "needs_reconnect"
    assert [r["id"] for r in api.get("/api/v1/connections/", {"active": "true"}).json()["results"]] == [str(x.pk)]
    for key in ("access_token", "refresh_token"):
        assert key not in body
    deleted = api.delete(f"/api/v1/connections/{x.pk}/")
    assert deleted.status_code == 200 and "revoked" in deleted.json()["detail"]
    assert not SocialConnection.objects.filter(pk=x.pk).exists()


def test_admin_deactivate_action(staff, simulator, admin_client):
    conn = connected(staff, "facebook", world.PAGE_MAIN_ID)
    admin_client.post(reverse("admin:connections_socialconnection_changelist"),
                      {"action": "deactivate", "_selected_action": [str(conn.pk)]})
    conn.refresh_from_db()
    assert not conn.is_active
