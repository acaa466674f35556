"""Texts: encoding and segments, suppressed numbers, signed delivery receipts."""

import datetime
import json
import threading
import time
import urllib.request

import pytest
from django.urls import reverse

from crm.tests.factories import ClubFactory, MemberFactory, StaffFactory
from promotions.dispatching import dispatch_run
from promotions.intake import sign
from promotions.models import PromotionDelivery, SmsReceipt, Suppression, SuppressionReason
from promotions.planning import promotion_plan
from promotions.sms_receipts import delivery_reference
from promotions.sms_segments import GSM7, UCS2, sms_cost, sms_size
from promotions.suppression import suppression_add
from promotions.tests.factories import EventPromotionFactory
from simulator.sms import SmsSimulatorServer

UTC = datetime.timezone.utc
NOON = datetime.datetime(2031, 6, 10, 12, 0, tzinfo=UTC)
SECRET = "receipt-secret"


# ---------------------------------------------------------------- encoding and segments

@pytest.mark.parametrize(("text", "encoding", "units", "segments"), [
    ("", GSM7, 0, 0),
    ("a" * 160, GSM7, 160, 1),
    ("a" * 161, GSM7, 161, 2),
    ("a" * 306, GSM7, 306, 2),
    ("a" * 307, GSM7, 307, 3),
    ("€" * 80, GSM7, 160, 1),  # extension table: two septets each
    ("€" * 81, GSM7, 162, 2),
    ("a" * 152 + "€" + "a" * 152, GSM7, 306, 3),  # the pair would straddle segments 1 and 2: it moves to 2
    ("é" * 71, GSM7, 71, 1),  # é is in GSM-7's basic table
    ("ж" * 70, UCS2, 70, 1),
    ("ж" * 71, UCS2, 71, 2),
    ("ж" * 134, UCS2, 134, 2),
    ("ж" * 135, UCS2, 135, 3),
    ("Hi 😀", UCS2, 5, 1),  # an emoji takes two UTF-16 units
])
def test_encoding_and_segments(text, encoding, units, segments):
    assert sms_size(text).as_dict() == {"encoding": encoding, "units": units, "segments": segments}


def test_a_ucs2_text_of_71_characters_counts_as_2_segments():
    size = sms_size("Привет, турнир в субботу! " + "ж" * 45)
    assert len("Привет, турнир в субботу! " + "ж" * 45) == 71
    assert (size.encoding, size.segments) == (UCS2, 2)


def test_cost_is_segments_times_the_tenant_price():
    assert str(sms_cost(segments=7, price_per_segment="0.045")) == "0.32"
    assert sms_cost(segments=7, price_per_segment=None) is None


# ---------------------------------------------------------------- sending: suppressed numbers, segments, reference

@pytest.fixture
def club(db):
    return ClubFactory(timezone="Europe/London")


def sms_announcement(club, **fields):
    promotion = EventPromotionFactory(club=club, channels=["SMS"], reminder_days=[],
                                      event_starts_at=NOON + datetime.timedelta(days=30), **fields)
    promotion_plan(promotion=promotion, now=NOON)
    return promotion.dispatches.get(kind="ANNOUNCEMENT", channel="SMS")


@pytest.mark.django_db
def test_a_suppressed_number_is_skipped_with_the_reason_and_others_get_the_text(club, sms_outbox):
    kept = MemberFactory(club=club, phone="+447911123456", sms_consent=True)
    gone = MemberFactory(club=club, phone="+447911123457", sms_consent=True)
    suppression_add(tenant_id=club.tenant_id, channel="SMS", address=gone.phone, reason=SuppressionReason.SMS_UNREACHABLE)
    dispatch = dispatch_run(dispatch_id=sms_announcement(club).pk, now=NOON)
    assert [t.to for t in sms_outbox] == [kept.phone]
    row = PromotionDelivery.objects.get(dispatch=dispatch, member=gone)
    assert row.status == "SKIPPED"
    assert row.reason.startswith("number suppressed: The number cannot take texts")
    sent = PromotionDelivery.objects.get(dispatch=dispatch, member=kept)
    assert sent.segments == sms_size(sms_outbox[0].body).segments >= 1
    assert sms_outbox[0].reference == delivery_reference(tenant_id=club.tenant_id, delivery_id=sent.pk)


@pytest.mark.django_db
def test_a_suppression_of_another_tenant_does_not_hold_the_number_back(club, sms_outbox):
    member = MemberFactory(club=club, phone="+447911123456", sms_consent=True)
    other = ClubFactory()
    suppression_add(tenant_id=other.tenant_id, channel="SMS", address=member.phone, reason=SuppressionReason.SMS_UNREACHABLE)
    dispatch_run(dispatch_id=sms_announcement(club).pk, now=NOON)
    assert [t.to for t in sms_outbox] == [member.phone]


# ---------------------------------------------------------------- receipts

@pytest.fixture
def sent_text(club, sms_outbox, settings):
    settings.SMS_RECEIPT_SECRET = SECRET
    member = MemberFactory(club=club, phone="+447911123456", sms_consent=True)
    dispatch = dispatch_run(dispatch_id=sms_announcement(club).pk, now=NOON)
    return PromotionDelivery.objects.get(dispatch=dispatch, member=member)


def post_receipt(client, body, *, secret=SECRET, timestamp=None, signature=None):
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"X-Signature-Timestamp": timestamp,
               "X-Signature": signature if signature is not None else sign(secret=secret, timestamp=timestamp, body=raw)}
    return client.post(reverse("promotions:sms-receipt"), raw, content_type="application/json", headers=headers)


def receipt(delivery, status="delivered", event_id="r-1", **extra):
    return {"id": event_id, "reference": delivery_reference(tenant_id=delivery.dispatch.tenant_id, delivery_id=delivery.pk),
            "to": "+447911123456", "status": status, **extra}


@pytest.mark.django_db
def test_a_delivery_receipt_marks_the_delivery_delivered(client, sent_text):
    response = post_receipt(client, receipt(sent_text))
    assert response.status_code == 200, response.content
    sent_text.refresh_from_db()
    assert sent_text.tracking_status == "DELIVERED"
    assert SmsReceipt.objects.get().delivery == sent_text


@pytest.mark.django_db
def test_a_failure_receipt_does_not_undo_a_delivery(client, sent_text):
    assert post_receipt(client, receipt(sent_text)).status_code == 200
    assert post_receipt(client, receipt(sent_text, status="failed", event_id="r-2")).status_code == 200
    sent_text.refresh_from_db()
    assert sent_text.tracking_status == "DELIVERED"


@pytest.mark.django_db
def test_a_permanent_failure_suppresses_the_number_for_the_next_dispatch(client, club, sent_text, sms_outbox):
    response = post_receipt(client, receipt(sent_text, status="permanent_failure", description="unknown subscriber"))
    assert response.json() == {"status": "suppressed"}
    sent_text.refresh_from_db()
    assert sent_text.tracking_status == "UNREACHABLE"
    suppression = Suppression.objects.get()
    assert (suppression.tenant_id, suppression.channel, suppression.address) == (club.tenant_id, "SMS", "+447911123456")
    sms_outbox.clear()
    dispatch_run(dispatch_id=sms_announcement(club, source_id="next").pk, now=NOON)
    assert sms_outbox == []


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["unsigned", "wrong secret", "stale", "tampered"])
def test_an_unsigned_or_stale_receipt_is_refused(client, sent_text, how):
    body = receipt(sent_text)
    if how == "unsigned":
        response = post_receipt(client, body, signature="")
    elif how == "wrong secret":
        response = post_receipt(client, body, secret="guess")
    elif how == "stale":
        response = post_receipt(client, body, timestamp=int(time.time()) - 3600)
    else:
        ts = str(int(time.time()))
        response = post_receipt(client, {**body, "status": "permanent_failure"}, timestamp=ts,
                                signature=sign(secret=SECRET, timestamp=ts, body=json.dumps(body).encode()))
    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"
    sent_text.refresh_from_db()
    assert sent_text.tracking_status == ""
    assert not SmsReceipt.objects.exists() and not Suppression.objects.exists()


@pytest.mark.django_db
def test_a_replayed_receipt_is_refused(client, sent_text):
    assert post_receipt(client, receipt(sent_text, status="failed")).status_code == 200
    again = post_receipt(client, receipt(sent_text, status="permanent_failure"))  # same id, even with new content
    assert again.status_code == 400
    assert "id" in again.json()["fields"]
    assert SmsReceipt.objects.count() == 1 and not Suppression.objects.exists()


@pytest.mark.django_db
def test_receipts_are_refused_when_no_secret_is_set(client, sent_text, settings):
    settings.SMS_RECEIPT_SECRET = ""
    assert post_receipt(client, receipt(sent_text)).status_code == 401


@pytest.mark.django_db
def test_a_forged_reference_or_another_tenants_delivery_is_refused(client, sent_text):
    other = ClubFactory()
    forged = {**receipt(sent_text), "reference": f"{other.tenant_id}:{sent_text.pk}:{'0' * 32}"}
    response = post_receipt(client, forged)
    assert response.status_code == 400 and "reference" in response.json()["fields"]
    wrong_tenant = {**receipt(sent_text),
                    "reference": delivery_reference(tenant_id=other.tenant_id, delivery_id=sent_text.pk)}
    assert post_receipt(client, wrong_tenant).status_code == 400
    assert not SmsReceipt.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), [
    ([], "non_field_errors"),
    ({"reference": "x", "status": "delivered"}, "id"),
    ({"id": "r", "reference": "x", "status": "read"}, "status"),
    ({"id": "r", "reference": "x", "status": "delivered", "occurred_at": "yesterday"}, "occurred_at"),
])
def test_a_malformed_receipt_names_the_field(client, sent_text, body, field):
    response = post_receipt(client, body)
    assert response.status_code == 400
    assert field in response.json()["fields"]


# ---------------------------------------------------------------- the gateway stand-in, over HTTP

class SmsStandIn:
    """simulator.sms on a free loopback port, driven over HTTP like any client would."""

    def __init__(self):
        self.server = SmsSimulatorServer(port=0, token="tok", receipt_secret=SECRET)
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

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(settings):
    stand_in = SmsStandIn()
    settings.SMS_BACKEND = "promotions.sms.HttpGatewaySmsBackend"
    settings.SMS_GATEWAY_URL, settings.SMS_GATEWAY_TOKEN = stand_in.url + "/messages", "tok"
    settings.SMS_RECEIPT_SECRET = SECRET
    yield stand_in
    stand_in.stop()


def forward(client, record):
    """Post a receipt the stand-in signed to the app, exactly as the stand-in would."""
    headers = {k: v for k, v in record["headers"].items() if k != "Content-Type"}
    return client.post(reverse("promotions:sms-receipt"), record["body"].encode(), content_type="application/json",
                       headers=headers)


@pytest.mark.django_db
def test_the_gateway_stand_in_receipts_update_each_delivery_and_suppress_dead_numbers(client, club, gateway):
    fine = MemberFactory(club=club, phone="+447911123456", sms_consent=True)
    away = MemberFactory(club=club, phone="+447911123111", sms_consent=True)
    dead = MemberFactory(club=club, phone="+447911123000", sms_consent=True)
    dispatch = dispatch_run(dispatch_id=sms_announcement(club).pk, now=NOON)
    texts = gateway.get("/_sms/messages")["messages"]
    assert sorted(t["to"] for t in texts) == sorted([fine.phone, away.phone, dead.phone])
    receipts = gateway.get("/_sms/receipts")["receipts"]
    assert all(forward(client, r).status_code == 200 for r in receipts)
    rows = {d.member_id: d for d in PromotionDelivery.objects.filter(dispatch=dispatch)}
    assert (rows[fine.pk].tracking_status, rows[away.pk].tracking_status, rows[dead.pk].tracking_status) == (
        "DELIVERED", "UNDELIVERED", "UNREACHABLE")
    assert list(Suppression.objects.values_list("channel", "address")) == [("SMS", dead.phone)]
    # Replayed from the stand-in's log: refused.
    assert forward(client, receipts[0]).status_code == 400
    # The next dispatch leaves the dead number out; the others get their text.
    gateway.post("/_sms/reset", {})
    dispatch_run(dispatch_id=sms_announcement(club, source_id="next").pk, now=NOON)
    assert sorted(t["to"] for t in gateway.get("/_sms/messages")["messages"]) == sorted([fine.phone, away.phone])
    # The page shows the gateway's reports for the first dispatch.
    client.force_login(StaffFactory(tenant=club.tenant).user)
    page = client.get(f"/promotions/{dispatch.promotion_id}/").content.decode()
    assert "What the SMS gateway reported" in page and "Not delivered: the number cannot take texts: 1" in page


@pytest.mark.django_db
def test_the_stand_in_refuses_a_wrong_token(club, gateway, settings):
    settings.SMS_GATEWAY_TOKEN = "wrong"
    member = MemberFactory(club=club, phone="+447911123456", sms_consent=True)
    dispatch = dispatch_run(dispatch_id=sms_announcement(club).pk, now=NOON)
    assert PromotionDelivery.objects.get(dispatch=dispatch, member=member).status == "FAILED"
    assert gateway.get("/_sms/messages")["messages"] == []
