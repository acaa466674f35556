from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connections.services import connection_mark_needs_reconnect
from connections.tests.factories import SocialConnectionFactory
from crm.models import StaffRole
from crm.services import staff_create
from crm.tests.factories import ClubFactory, TenantFactory
from notifications import services
from notifications.models import Notification, NotificationDelivery, NotificationKind
from notifications.services import delivery_send_email, digest_send, notifications_scan
from posts.models import SchedulerHeartbeat
from posts.models import SocialPostStatus as S
from posts.publishing import _fail
from posts.services import post_retry
from posts.tests.factories import SocialPostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    tenant = TenantFactory()
    club, other_club = ClubFactory(tenant=tenant, name="Pinewood"), ClubFactory(tenant=tenant, name="Oakfield")

    def person(username, **kw):
        user = staff_create(tenant_id=tenant.pk, username=username, password="pw-123456-long", **kw)[0]
        user.email = f"{username}@club.example"
        user.save(update_fields=["email"])
        return user

    people = {
        "author": person("alex", club_ids=[club.pk]),
        "club_staff": person("casey", club_ids=[club.pk]),
        "everywhere": person("eve"),
        "admin": person("ada", role=StaffRole.ADMIN, club_ids=[other_club.pk]),
        "other_club": person("olly", club_ids=[other_club.pk]),
    }
    other_tenant = TenantFactory()
    outsider = staff_create(tenant_id=other_tenant.pk, username="bob", password="pw-123456-long",
                            role=StaffRole.ADMIN)[0]
    outsider.email = "bob@else.example"
    outsider.save(update_fields=["email"])
    people["outsider"] = outsider
    return {"tenant": tenant, "club": club, "other_club": other_club, "people": people}


@pytest.fixture
def run(django_capture_on_commit_callbacks, eager_celery):
    """Run a piece of work the way production does: its after-commit tasks run, eagerly."""
    def _run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)
    return _run


def recipients_of(outbox):
    return sorted(address for message in outbox for address in message.to)


def failed_post(team, run, kind="INVALID_CONTENT"):
    connection = SocialConnectionFactory(club=team["club"], account_name="Pinewood Golf")
    post = SocialPostFactory(connection=connection, created_by="alex", status=S.PUBLISHING,
                             scheduled_at=timezone.now() - timedelta(minutes=1))
    assert run(_fail, post, kind=kind, message="The text is too long for this network.",
               now=timezone.now())
    return post


def banner_text(user):
    client = Client()
    client.force_login(user)
    return client.get(reverse("posts:list")).content.decode()


def test_a_failed_post_emails_the_right_people_once_and_shows_a_banner(team, run):
    people = team["people"]
    services.preferences_update(user=people["everywhere"], choices={"POST_FAILED": {"email": False}})

    post = failed_post(team, run)

    # The author, the club's staff and the admins; not staff of another club, nor another tenant, nor someone
    # who turned these emails off.
    assert recipients_of(mail.outbox) == ["ada@club.example", "alex@club.example", "casey@club.example"]
    message = mail.outbox[0]
    assert "was not published" in message.subject and "Pinewood Golf" in message.subject
    assert "The text is too long" in message.body
    assert reverse("posts:detail", kwargs={"post_id": post.pk}) in message.body
    html = message.alternatives[0][0]
    assert "The text is too long" in html and "<a href=" in html

    # The banner reaches everyone responsible, including who opted out of email; not the other club's staff.
    for who in ("author", "club_staff", "admin", "everywhere"):
        assert "was not published" in banner_text(people[who]), who
    assert "was not published" not in banner_text(people["other_club"])
    assert "was not published" not in banner_text(people["outsider"])

    # The same failure reported again (the reconciler, the scan, a redelivered task) sends nothing more.
    mail.outbox.clear()
    run(services.notify_post_failed, post=post)
    run(notifications_scan)
    assert mail.outbox == []
    assert Notification.objects.filter(kind=NotificationKind.POST_FAILED, post=post).count() == 1


def test_a_retried_post_resolves_its_banner_and_a_new_failure_is_news_again(team, run):
    people = team["people"]
    post = failed_post(team, run, kind="TRANSIENT")
    assert "was not published" in banner_text(people["author"])

    post_retry(post=post, by="alex", at=timezone.now() + timedelta(hours=1))
    assert "was not published" not in banner_text(people["author"])
    run(notifications_scan)
    assert Notification.objects.get(post=post).resolved_at is not None

    mail.outbox.clear()
    post.refresh_from_db()
    post.status = S.PUBLISHING
    post.save(update_fields=["status"])
    assert run(_fail, post, kind="TRANSIENT", message="The platform is down.", now=timezone.now())
    assert len(mail.outbox) == 4
    assert "was not published" in banner_text(people["author"])


def test_posts_failed_in_bulk_for_missing_their_time_are_found_by_the_scan(team, run):
    connection = SocialConnectionFactory(club=team["club"])
    SocialPostFactory(connection=connection, created_by="alex", status=S.FAILED, error="Missed its time.",
                      scheduled_at=timezone.now() - timedelta(hours=2))
    assert run(notifications_scan) == {"raised": 1, "resolved": 0}
    assert len(mail.outbox) == 4
    assert run(notifications_scan) == {"raised": 0, "resolved": 0}
    assert len(mail.outbox) == 4
    assert SchedulerHeartbeat.objects.get(name="scan_notifications").last_summary == {"raised": 0, "resolved": 0}


def test_an_expiring_connection_emails_once_shows_a_banner_and_clears_when_reconnected(team, run, settings):
    settings.TOKEN_EXPIRY_WARNING_DAYS = 7
    people = team["people"]
    connection = SocialConnectionFactory(club=team["club"], platform="LINKEDIN", account_name="Pinewood Company",
                                         connected_by="casey",
                                         permissions=["w_member_social", "w_organization_social",
                                                      "r_organization_social", "rw_organization_admin"])
    connection.token_expiry = timezone.now() + timedelta(days=3)
    connection.save(update_fields=["token_expiry"])
    far = SocialConnectionFactory(club=team["club"], account_name="Fine page")
    far.token_expiry = timezone.now() + timedelta(days=40)
    far.save(update_fields=["token_expiry"])

    run(notifications_scan)
    assert recipients_of(mail.outbox) == ["ada@club.example", "alex@club.example", "casey@club.example",
                                          "eve@club.example"]
    assert "stops working soon" in mail.outbox[0].subject and "Pinewood Company" in mail.outbox[0].subject
    assert "Reconnect it" in mail.outbox[0].body
    assert "stops working soon" in banner_text(people["club_staff"])
    assert "Fine page" not in banner_text(people["club_staff"])

    run(notifications_scan)
    assert len(mail.outbox) == 4  # once per sign-in, however often the scan runs

    # Reconnected: new tokens, a new expiry far away. The banner goes by itself; the scan records it resolved.
    connection.set_tokens(access_token="fresh-access")
    connection.token_expiry = timezone.now() + timedelta(days=60)
    connection.save()
    assert "stops working soon" not in banner_text(people["club_staff"])
    run(notifications_scan)
    assert Notification.objects.get(connection=connection).resolved_at is not None
    assert len(mail.outbox) == 4


def test_a_connection_that_needs_reconnecting_emails_once(team, run):
    connection = SocialConnectionFactory(club=team["club"], account_name="Pinewood Golf", connected_by="alex")
    run(connection_mark_needs_reconnect, connection=connection, reason="The platform revoked access.")
    assert recipients_of(mail.outbox) == ["ada@club.example", "alex@club.example", "casey@club.example",
                                          "eve@club.example"]
    assert "needs reconnecting" in mail.outbox[0].subject
    assert "The platform revoked access." in mail.outbox[0].body
    run(connection_mark_needs_reconnect, connection=connection, reason="Still revoked.")
    run(notifications_scan)
    assert len(mail.outbox) == 4
    assert "needs reconnecting" in banner_text(team["people"]["everywhere"])


def test_dismissing_hides_the_banner_for_that_person_only(team, run):
    people = team["people"]
    post = failed_post(team, run)
    notification = Notification.objects.get(post=post)
    client = Client()
    client.force_login(people["author"])
    response = client.post(reverse("notifications:dismiss", kwargs={"pk": notification.pk}), {"next": "/posts/"})
    assert response.status_code == 302 and response["Location"] == "/posts/"
    assert "was not published" not in banner_text(people["author"])
    assert "was not published" in banner_text(people["club_staff"])


def test_dismissing_refuses_an_offsite_next_and_another_tenants_notification(team, run):
    people = team["people"]
    post = failed_post(team, run)
    notification = Notification.objects.get(post=post)
    client = Client()
    client.force_login(people["author"])
    response = client.post(reverse("notifications:dismiss", kwargs={"pk": notification.pk}),
                           {"next": "https://evil.example/"})
    assert response["Location"] == "/"
    outsider = Client()
    outsider.force_login(people["outsider"])
    assert outsider.post(reverse("notifications:dismiss", kwargs={"pk": notification.pk})).status_code == 404
    other_club = Client()
    other_club.force_login(people["other_club"])
    assert other_club.post(reverse("notifications:dismiss", kwargs={"pk": notification.pk})).status_code == 404


def test_an_email_is_sent_once_even_when_its_task_runs_twice_and_a_failed_send_is_retried(team, run, monkeypatch):
    services.preferences_update(user=team["people"]["everywhere"], choices={"POST_FAILED": {"email": False}})
    with monkeypatch.context() as patch:
        patch.setattr(services, "_enqueue_emails", lambda ids: None)  # hold the emails back
        failed_post(team, run)
    delivery = NotificationDelivery.objects.filter(email_wanted=True).order_by("pk").first()

    def broken(**kwargs):
        raise OSError("mail server unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(services, "_send", broken)
        with pytest.raises(OSError):
            delivery_send_email(delivery_id=delivery.pk)
    assert mail.outbox == []
    assert delivery_send_email(delivery_id=delivery.pk) == "sent"
    assert delivery_send_email(delivery_id=delivery.pk) == "already-sent"
    assert len(mail.outbox) == 1


def test_the_daily_summary_goes_once_to_who_chose_it_and_not_when_there_is_nothing(team, run):
    people = team["people"]
    services.preferences_update(user=people["author"], choices={"POST_FAILED": {"email": False, "digest": True}})
    failed_post(team, run)
    failed_post(team, run)
    old = failed_post(team, run)
    NotificationDelivery.objects.filter(notification__post=old).update(created_at=timezone.now() - timedelta(days=2))
    mail.outbox.clear()

    run(digest_send, user_id=people["author"].pk)
    assert len(mail.outbox) == 1
    summary = mail.outbox[0]
    assert summary.to == ["alex@club.example"] and "2 notifications" in summary.subject  # the last day's only
    assert summary.body.count("was not published") == 2
    assert "<li>" in summary.alternatives[0][0]

    run(digest_send, user_id=people["author"].pk)
    run(digest_send, user_id=people["club_staff"].pk)  # chose no summary
    assert len(mail.outbox) == 1


def test_the_daily_summary_task_fans_out_to_who_has_something(team, run, eager_celery):
    from notifications.tasks import send_digests

    services.preferences_update(user=team["people"]["admin"], choices={"POST_FAILED": {"digest": True}})
    assert run(send_digests) == 0
    failed_post(team, run)
    mail.outbox.clear()
    assert run(send_digests) == 1
    assert [m.to for m in mail.outbox] == [["ada@club.example"]]


def test_approval_events_reach_the_approvers_then_the_author(team, run):
    people = team["people"]
    connection = SocialConnectionFactory(club=team["club"])
    post = SocialPostFactory(connection=connection, created_by="alex")
    run(services.notify_approval_requested, post=post, by="alex")
    assert recipients_of(mail.outbox) == ["ada@club.example"]
    mail.outbox.clear()
    run(services.notify_approval_decided, post=post, by="ada", approved=False, comment="Add the start time.")
    assert recipients_of(mail.outbox) == ["alex@club.example"]
    assert "sent back" in mail.outbox[0].subject and "Add the start time." in mail.outbox[0].body
    requested = Notification.objects.get(kind=NotificationKind.APPROVAL_REQUESTED)
    assert requested.resolved_at is not None
    assert "waits for approval" not in banner_text(people["admin"])


def test_the_settings_page_saves_each_choice(team):
    client = Client()
    client.force_login(team["people"]["author"])
    page = client.get(reverse("notifications:settings")).content.decode()
    assert "A post failed to publish" in page and 'for="POST_FAILED-email"' in page
    client.post(reverse("notifications:settings"), {"POST_FAILED-digest": "on", "APPROVAL_DECIDED-email": "on"})
    choices = services.preferences_of(user=team["people"]["author"])
    assert choices["POST_FAILED"].email is False and choices["POST_FAILED"].digest is True
    assert choices["APPROVAL_DECIDED"].email is True
    assert choices["CONNECTION_RECONNECT"].email is False


# ----------------------------------------------------------------------------- API


def api(user):
    client = Client()
    client.force_login(user)
    return client


def test_api_lists_own_notifications_and_dismisses(team, run):
    people = team["people"]
    post = failed_post(team, run)
    notification = Notification.objects.get(post=post)
    client = api(people["author"])
    listed = client.get("/api/v1/notifications/").json()
    assert [row["id"] for row in listed["results"]] == [str(notification.pk)]
    assert listed["results"][0]["dismissed_at"] is None and listed["results"][0]["kind"] == "POST_FAILED"
    dismissed = client.post(f"/api/v1/notifications/{notification.pk}/dismiss/").json()
    assert dismissed["dismissed_at"] is not None
    assert "was not published" not in banner_text(people["author"])
    # Someone else's list: the other club's staff received nothing; another tenant's id is simply not found.
    assert api(people["other_club"]).get("/api/v1/notifications/").json()["results"] == []
    outsider = api(people["outsider"])
    assert outsider.get(f"/api/v1/notifications/{notification.pk}/").status_code == 404
    assert outsider.post(f"/api/v1/notifications/{notification.pk}/dismiss/").status_code == 404
    assert outsider.post("/api/v1/notifications/not-an-id/dismiss/").status_code == 404


def test_api_preferences_read_and_write_with_clear_errors(team):
    client = api(team["people"]["author"])
    current = client.get("/api/v1/notifications/preferences/").json()
    assert {row["kind"] for row in current["preferences"]} == set(NotificationKind.values)
    saved = client.put("/api/v1/notifications/preferences/",
                       {"preferences": [{"kind": "POST_FAILED", "email": False, "digest": True}]},
                       content_type="application/json")
    assert saved.status_code == 200
    row = next(r for r in saved.json()["preferences"] if r["kind"] == "POST_FAILED")
    assert row == {"kind": "POST_FAILED", "label": "A post failed to publish", "email": False, "digest": True}
    bad = client.put("/api/v1/notifications/preferences/", {"preferences": [{"kind": "NOPE", "email": True}]},
                     content_type="application/json")
    assert bad.status_code == 400 and "preferences" in bad.content.decode()


def test_schema_lists_the_notification_endpoints(team):
    client = api(team["people"]["admin"])
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/v1/notifications/", "/api/v1/notifications/{id}/dismiss/", "/api/v1/notifications/preferences/"):
        assert path in schema


def test_approval_signals_are_hooked_where_posts_announce_them(team, run, monkeypatch):
    import sys
    import types

    from django.dispatch import Signal

    from notifications.receivers import connect_approval_signals

    announced = types.ModuleType("posts.signals")
    announced.approval_requested, announced.approval_decided = Signal(), Signal()
    monkeypatch.setitem(sys.modules, "posts.signals", announced)
    assert connect_approval_signals() == ["approval_requested", "approval_decided"]

    post = SocialPostFactory(connection=SocialConnectionFactory(club=team["club"]), created_by="alex")
    run(announced.approval_requested.send, sender=type(post), post=post, by="alex")
    assert recipients_of(mail.outbox) == ["ada@club.example"]
    run(announced.approval_decided.send, sender=type(post), post=post, by="ada", approved=True, comment="")
    assert recipients_of(mail.outbox) == ["ada@club.example", "alex@club.example"]
    assert "was approved" in mail.outbox[-1].subject


def test_a_post_submitted_for_approval_emails_the_admins_then_the_decision_reaches_the_author(team, run):
    """Through the posts services themselves: their approval signals reach the notifications."""
    from posts.services import post_approve, post_submit

    tenant = team["club"].tenant
    tenant.posts_need_approval = True
    tenant.save(update_fields=["posts_need_approval"])
    connection = SocialConnectionFactory(club=team["club"])
    post = SocialPostFactory(connection=connection, created_by="alex", status=S.DRAFT)
    run(post_submit, post=post, by=team["people"]["author"])
    assert recipients_of(mail.outbox) == ["ada@club.example"]
    mail.outbox.clear()
    run(post_approve, post=post, by=team["people"]["admin"], comment="")
    assert recipients_of(mail.outbox) == ["alex@club.example"]
