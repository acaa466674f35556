"""Promotion email through a provider (anymail's Mailgun backend against the bundled stand-in, over HTTP)
and the provider's signed tracking webhooks: status per delivery, suppressions, replay and tenancy."""

import datetime
import hashlib
import hmac
import json
import threading
import time
import urllib.request

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import StaffRole
from crm.services import staff_create
from crm.tests.factories import ClubFactory, MemberFactory, StaffFactory
from promotions.dispatching import dispatch_run
from promotions.email_events import delivery_metadata
from promotions.models import (
    DeliveryStatus,
    EmailEvent,
    PromotionDelivery,
    PromotionDispatch,
    Suppression,
    SuppressionReason,
    TrackingStatus,
)
from promotions.planning import promotion_plan
from promotions.suppression import suppression_add, suppression_lift
from promotions.tests.factories import EventPromotionFactory
from simulator.mail import MailSimulatorServer

SIGNING_KEY = "test-mailgun-signing-key"  # socialcrm/test_settings.py
API_KEY = "test-mailgun-key"
WEBHOOK = "/anymail/mailgun/tracking/"

pytestmark = pytest.mark.django_db


class MailStandIn:
    """The stand-in on a free loopback port, driven over HTTP like any client would."""

    def __init__(self):
        self.server = MailSimulatorServer(port=0, api_key=API_KEY, signing_key=SIGNING_KEY)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = self.server.url

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=5) as answer:
            return json.loads(answer.read())

    def post(self, path, body):
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.loads(answer.read())

    def messages(self):
        return self.get("/_mail/messages")["messages"]

    def webhooks(self, **match):
        hooks = self.get("/_mail/webhooks")["webhooks"]
        return [h for h in hooks if all(h[k] == v for k, v in match.items())]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in(settings):
    mail = MailStandIn()
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_API_URL": mail.url + "/v3"}
    yield mail
    mail.stop()


@pytest.fixture
def club(db):
    return ClubFactory(timezone="Europe/London")


def send_announcement(club, now=None, **fields):
    """Plan a promotion by email and send its announcement now; the dispatch."""
    now = now or timezone.now()
    promotion = EventPromotionFactory(club=club, channels=["EMAIL"], reminder_days=[3],
                                      event_starts_at=now + datetime.timedelta(days=30), **fields)
    promotion_plan(promotion=promotion, now=now)
    dispatch = promotion.dispatches.get(kind="ANNOUNCEMENT")
    assert dispatch_run(dispatch_id=dispatch.pk, now=now) is not None
    return dispatch


def post_webhook(client, payload):
    return client.post(WEBHOOK, data=json.dumps(payload), content_type="application/json")


def resign(payload, key=SIGNING_KEY):
    """The payload as the provider would sign it (a fresh token and timestamp)."""
    payload = json.loads(json.dumps(payload))
    timestamp, token = str(int(time.time())), hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:50]
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    payload["signature"] = {"timestamp": timestamp, "token": token, "signature": signature}
    return payload


def delivery_of(dispatch, member):
    return PromotionDelivery.objects.get(dispatch=dispatch, member=member)


# ---------------------------------------------------------------- sending through the provider

def test_each_email_goes_to_the_provider_with_its_delivery_in_the_metadata(client, club, stand_in):
    member = MemberFactory(club=club, email="ada@members.example")
    dispatch = send_announcement(club)

    (message,) = stand_in.messages()
    assert message["to"] == ["ada@members.example"]
    delivery = delivery_of(dispatch, member)
    assert delivery.status == DeliveryStatus.SENT
    assert message["variables"] == delivery_metadata(tenant_id=club.tenant_id, delivery_id=delivery.pk)
    assert message["tags"] == ["promotion"]


def test_a_wrong_api_key_fails_the_delivery_without_sending(club, stand_in, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_API_KEY": "not-the-key"}
    member = MemberFactory(club=club)
    dispatch = send_announcement(club)

    delivery = delivery_of(dispatch, member)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.reason == "the email provider answered with error 401"
    assert stand_in.messages() == []


# ---------------------------------------------------------------- tracking webhooks

def test_delivered_then_opened_updates_the_delivery_and_a_late_delivered_report_does_not_undo_it(client, club, stand_in):
    member = MemberFactory(club=club, email="open.ada@members.example")
    dispatch = send_announcement(club)
    delivered, opened = stand_in.webhooks(event="delivered")[0], stand_in.webhooks(event="opened")[0]

    assert post_webhook(client, delivered["payload"]).status_code == 200
    delivery = delivery_of(dispatch, member)
    assert delivery.tracking_status == TrackingStatus.DELIVERED
    assert post_webhook(client, opened["payload"]).status_code == 200
    delivery.refresh_from_db()
    assert delivery.tracking_status == TrackingStatus.OPENED
    assert delivery.tracking_at is not None

    # The provider reports the delivery again (a new event id): an opened message stays opened.
    assert post_webhook(client, resign(delivered["payload"])).status_code == 200
    delivery.refresh_from_db()
    assert delivery.tracking_status == TrackingStatus.OPENED
    assert EmailEvent.objects.filter(delivery=delivery).count() == 3


def test_a_clicked_report_from_the_control_api_reaches_the_delivery(client, club, stand_in):
    member = MemberFactory(club=club)
    dispatch = send_announcement(club)
    (message,) = stand_in.messages()
    clicked = stand_in.post(f"/_mail/messages/{message['id']}/events", {"event": "clicked"})

    assert post_webhook(client, clicked["payload"]).status_code == 200
    assert delivery_of(dispatch, member).tracking_status == TrackingStatus.CLICKED


def test_a_signed_hard_bounce_suppresses_the_member_for_the_next_dispatch(client, club, stand_in):
    bouncer = MemberFactory(club=club, email="Bounce.Bob@members.example")
    other = MemberFactory(club=club, email="cal@members.example")
    dispatch = send_announcement(club)
    (bounce,) = stand_in.webhooks(event="failed")

    assert post_webhook(client, bounce["payload"]).status_code == 200

    assert delivery_of(dispatch, bouncer).tracking_status == TrackingStatus.BOUNCED
    suppression = Suppression.objects.get(tenant=club.tenant, channel="EMAIL")
    assert suppression.address == "bounce.bob@members.example"
    assert suppression.reason == SuppressionReason.HARD_BOUNCE
    assert suppression.source_event.event_type == TrackingStatus.BOUNCED

    # The next dispatch (the reminder) skips the address and says why; the other member still gets it.
    reminder = dispatch.promotion.dispatches.get(kind="REMINDER")
    PromotionDispatch.objects.filter(pk=reminder.pk).update(scheduled_for=timezone.now())
    assert dispatch_run(dispatch_id=reminder.pk, now=timezone.now()) is not None
    skipped = delivery_of(reminder, bouncer)
    assert skipped.status == DeliveryStatus.SKIPPED
    assert skipped.reason.startswith("address suppressed: The address bounced")
    assert delivery_of(reminder, other).status == DeliveryStatus.SENT
    sent_to = [m["to"] for m in stand_in.messages()]
    assert sent_to.count(["Bounce.Bob@members.example"]) == 1  # the announcement only
    assert sent_to.count(["cal@members.example"]) == 2


def test_a_complaint_suppresses_the_address(client, club, stand_in):
    MemberFactory(club=club, email="complain@members.example")
    send_announcement(club)
    (complaint,) = stand_in.webhooks(event="complained")

    assert post_webhook(client, complaint["payload"]).status_code == 200
    assert Suppression.objects.get(address="complain@members.example").reason == SuppressionReason.COMPLAINT


def test_soft_bounces_in_a_row_suppress_the_address_and_a_delivery_between_them_starts_the_count_again(
        client, club, stand_in, settings):
    settings.EMAIL_SOFT_BOUNCE_LIMIT = 3
    member = MemberFactory(club=club, email="softbounce@members.example")
    dispatch = send_announcement(club)
    (message,) = stand_in.messages()
    base = time.time() - 600

    def event(kind, minutes, **extra):
        record = stand_in.post(f"/_mail/messages/{message['id']}/events",
                               {"event": kind, "timestamp": base + 60 * minutes, **extra})
        assert post_webhook(client, record["payload"]).status_code == 200

    event("failed", 1, severity="temporary")
    event("failed", 2, severity="temporary")
    event("delivered", 3)
    event("failed", 4, severity="temporary")
    event("failed", 5, severity="temporary")
    assert not Suppression.objects.exists()  # two in a row since the delivery
    assert delivery_of(dispatch, member).tracking_status == TrackingStatus.DELIVERED

    event("failed", 6, severity="temporary")
    suppression = Suppression.objects.get()
    assert (suppression.address, suppression.reason) == ("softbounce@members.example", SuppressionReason.SOFT_BOUNCES)


# ---------------------------------------------------------------- refusals

def test_an_unsigned_or_wrongly_signed_webhook_is_refused_and_changes_nothing(client, club, stand_in):
    member = MemberFactory(club=club, email="bounce@members.example")
    dispatch = send_announcement(club)
    (bounce,) = stand_in.webhooks(event="failed")
    unsigned = {k: v for k, v in bounce["payload"].items() if k != "signature"}
    forged = resign(bounce["payload"], key="someone-elses-key")

    assert post_webhook(client, unsigned).status_code == 400
    assert post_webhook(client, forged).status_code == 400
    form = client.post(WEBHOOK, data={"event": "bounced", "recipient": "bounce@members.example"})
    assert form.status_code == 400

    assert delivery_of(dispatch, member).tracking_status == ""
    assert not Suppression.objects.exists()
    assert not EmailEvent.objects.exists()


def test_a_replayed_webhook_is_refused(client, club, stand_in):
    member = MemberFactory(club=club, email="open@members.example")
    dispatch = send_announcement(club)
    (opened,) = stand_in.webhooks(event="opened")

    assert post_webhook(client, opened["payload"]).status_code == 200
    assert post_webhook(client, opened["payload"]).status_code == 400
    assert EmailEvent.objects.filter(delivery=delivery_of(dispatch, member)).count() == 1


def test_an_event_older_than_the_window_is_refused(client, club, stand_in, settings):
    settings.EMAIL_EVENT_MAX_AGE_SECONDS = 3600
    member = MemberFactory(club=club)
    dispatch = send_announcement(club)
    (message,) = stand_in.messages()
    old = stand_in.post(f"/_mail/messages/{message['id']}/events",
                        {"event": "failed", "timestamp": time.time() - 7200})  # validly signed, but stale

    assert post_webhook(client, old["payload"]).status_code == 400
    assert delivery_of(dispatch, member).tracking_status == ""
    assert not Suppression.objects.exists()


def test_a_webhook_cannot_touch_another_tenants_delivery(client, stand_in):
    club_a, club_b = ClubFactory(), ClubFactory()
    member_a = MemberFactory(club=club_a, email="bounce.a@members.example")
    member_b = MemberFactory(club=club_b, email="bounce.b@members.example")
    dispatch_a, dispatch_b = send_announcement(club_a), send_announcement(club_b)
    delivery_a, delivery_b = delivery_of(dispatch_a, member_a), delivery_of(dispatch_b, member_b)
    bounce_a = next(h for h in stand_in.webhooks(event="failed") if h["recipient"] == "bounce.a@members.example")

    # Validly signed by the provider (the account's key is shared), but the metadata is bent towards tenant B:
    # B's tenant with A's delivery, and A's reference on B's delivery id.
    for variables in (
        {**bounce_a["payload"]["event-data"]["user-variables"], "scrm_tenant": str(club_b.tenant_id)},
        {**bounce_a["payload"]["event-data"]["user-variables"], "scrm_tenant": str(club_b.tenant_id),
         "scrm_delivery": str(delivery_b.pk)},
        {**bounce_a["payload"]["event-data"]["user-variables"], "scrm_delivery": str(delivery_b.pk)},
    ):
        payload = json.loads(json.dumps(bounce_a["payload"]))
        payload["event-data"]["user-variables"] = variables
        assert post_webhook(client, resign(payload)).status_code == 200  # verified, but not ours: ignored

    for delivery in (delivery_a, delivery_b):
        delivery.refresh_from_db()
        assert delivery.tracking_status == ""
    assert not Suppression.objects.exists()
    assert not EmailEvent.objects.exists()

    # The untouched event applies to A only.
    assert post_webhook(client, bounce_a["payload"]).status_code == 200
    assert Suppression.objects.get().tenant_id == club_a.tenant_id
    delivery_b.refresh_from_db()
    assert delivery_b.tracking_status == ""


def test_mail_sent_by_someone_else_on_the_account_is_ignored(client, club, stand_in):
    payload = resign({"event-data": {"event": "failed", "severity": "permanent", "timestamp": time.time(),
                                     "recipient": "x@elsewhere.example", "user-variables": {},
                                     "message": {"headers": {"message-id": "abc@elsewhere.example"}}}})
    assert post_webhook(client, payload).status_code == 200
    assert not EmailEvent.objects.exists() and not Suppression.objects.exists()


# ---------------------------------------------------------------- suppressions: staff see them, and lift them

def test_suppression_reason_and_date_show_on_the_member_and_in_the_suppression_admin(client, club):
    member = MemberFactory(club=club, email="gone@members.example")
    at = datetime.datetime(2031, 3, 4, 23, 30, tzinfo=datetime.UTC)  # 4 March in London
    suppression_add(tenant_id=club.tenant_id, channel="EMAIL", address="Gone@members.example",
                    reason=SuppressionReason.HARD_BOUNCE, at=at)
    admin = staff_create(tenant_id=club.tenant_id, username="club-admin", password="pw-123456", role=StaffRole.ADMIN)[0]
    client.force_login(admin)

    member_page = client.get(reverse("admin:crm_member_change", args=[member.pk])).content.decode()
    assert "The address bounced (it does not exist or refuses mail) — not sent to since 4 March 2031" in member_page

    listing = client.get(reverse("admin:promotions_suppression_changelist")).content.decode()
    assert "gone@members.example" in listing
    assert "The address bounced" in listing


def test_staff_lift_a_suppression_with_a_note_and_the_address_gets_mail_again(client, club, settings):
    member = MemberFactory(club=club, email="back@members.example")
    suppression = suppression_add(tenant_id=club.tenant_id, channel="EMAIL", address=member.email,
                                  reason=SuppressionReason.COMPLAINT)
    admin = staff_create(tenant_id=club.tenant_id, username="club-admin", password="pw-123456", role=StaffRole.ADMIN)[0]
    client.force_login(admin)
    url = reverse("admin:promotions_suppression_change", args=[suppression.pk])

    assert client.post(url, {"lift_note": "  "}).status_code == 302
    suppression.refresh_from_db()
    assert suppression.lifted_at is None  # no note, nothing lifted

    assert client.post(url, {"lift_note": "Member called: wants the newsletter again"}).status_code == 302
    suppression.refresh_from_db()
    assert suppression.lifted_at is not None
    assert (suppression.lifted_by, suppression.lift_note) == (admin.username, "Member called: wants the newsletter again")

    dispatch = send_announcement(club)
    assert delivery_of(dispatch, member).status == DeliveryStatus.SENT


def test_lifting_needs_a_note_and_happens_once(club):
    suppression = suppression_add(tenant_id=club.tenant_id, channel="EMAIL", address="a@b.example",
                                  reason=SuppressionReason.HARD_BOUNCE)
    with pytest.raises(Exception, match="Say why"):
        suppression_lift(suppression=suppression, by="sam", note="")
    suppression_lift(suppression=suppression, by="sam", note="fixed the typo")
    with pytest.raises(Exception, match="already lifted"):
        suppression_lift(suppression=suppression, by="sam", note="again")
    # A new bounce after the lift suppresses the address again, as a new row.
    again = suppression_add(tenant_id=club.tenant_id, channel="EMAIL", address="A@b.example",
                            reason=SuppressionReason.HARD_BOUNCE)
    assert again.pk != suppression.pk and Suppression.objects.count() == 2


def test_the_promotion_page_shows_counts_per_status_and_each_members_latest_status(client, club, stand_in):
    ada = MemberFactory(club=club, first_name="Ada", last_name="Open", email="open@members.example")
    bob = MemberFactory(club=club, first_name="Bob", last_name="Bounce", email="bounce@members.example")
    MemberFactory(club=club, first_name="Cal", last_name="Quiet", email="cal@members.example")
    dispatch = send_announcement(club)
    for hook in stand_in.webhooks():
        if hook["event"] != "delivered" or hook["recipient"] == "cal@members.example":
            assert post_webhook(client, hook["payload"]).status_code == 200
    assert {ada.pk, bob.pk} <= set(PromotionDelivery.objects.exclude(tracking_status="").values_list("member_id", flat=True))
    client.force_login(StaffFactory(tenant=club.tenant).user)

    page = client.get(reverse("promotions:detail", args=[dispatch.promotion_id])).content.decode()
    assert "Delivered: 1" in page
    assert "Opened: 1" in page
    assert "Bounced: 1" in page
    assert "Ada Open</span>: <span class=\"badge ok\">Opened" in page
    assert "Bob Bounce</span>: <span class=\"badge bad\">Bounced" in page
    assert "Cal Quiet</span>: <span class=\"badge ok\">Delivered" in page


def test_the_demo_has_members_whose_addresses_the_mail_stand_in_bounces_complains_and_opens_for():
    from crm.demo import seed_demo

    seed_demo(members=10)
    emails = set(MemberFactory._meta.model.objects.filter(tenant_id="demo", email_consent=True).values_list("email", flat=True))
    for prefix in ("bounce.", "complain.", "open.", "click."):
        assert any(e.startswith(prefix) for e in emails), prefix


@pytest.mark.parametrize(("esp_name", "event_type", "payload", "reject_reason", "expected"), [
    ("Mailgun", "bounced", {}, None, TrackingStatus.BOUNCED),
    ("Mailgun", "deferred", {}, None, TrackingStatus.SOFT_BOUNCED),
    ("Postmark", "bounced", {"Type": "HardBounce"}, None, TrackingStatus.BOUNCED),
    ("Postmark", "bounced", {"Type": "SoftBounce"}, None, TrackingStatus.SOFT_BOUNCED),
    ("Brevo", "bounced", {"event": "soft_bounce"}, None, TrackingStatus.SOFT_BOUNCED),
    ("Brevo", "bounced", {"event": "hard_bounce"}, None, TrackingStatus.BOUNCED),
    ("Mailjet", "bounced", {"hard_bounce": False}, None, TrackingStatus.SOFT_BOUNCED),
    ("Mailgun", "rejected", {}, "bounced", TrackingStatus.BOUNCED),
    ("Mailgun", "rejected", {}, "other", None),
    ("Postmark", "complained", {}, None, TrackingStatus.COMPLAINED),
    ("Postmark", "opened", {}, None, TrackingStatus.OPENED),
    ("Postmark", "queued", {}, None, None),
])
def test_each_providers_bounces_are_told_hard_from_soft(esp_name, event_type, payload, reject_reason, expected):
    from anymail.signals import AnymailTrackingEvent

    from promotions.email_providers import tracking_status_of

    event = AnymailTrackingEvent(event_type=event_type, esp_event=payload, reject_reason=reject_reason)
    assert tracking_status_of(event, esp_name) == expected
