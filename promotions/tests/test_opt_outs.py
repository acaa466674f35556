import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail

from crm.models import Member
from crm.tests.factories import ClubFactory, MemberFactory
from promotions.dispatching import dispatch_due
from promotions.models import DeliveryStatus, PromotionDelivery, SmsOptOut
from promotions.planning import promotion_plan
from promotions.sms import HttpGatewaySmsBackend, SmsError, SmsMessage
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db
UTC = datetime.timezone.utc


def test_one_click_unsubscribe_stops_the_next_reminder(client):
    now = datetime.datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
    club = ClubFactory()
    leaver, stayer = MemberFactory.create_batch(2, club=club)
    promotion = EventPromotionFactory(club=club, channels=["EMAIL"], reminder_days=[3],
                                      event_starts_at=datetime.datetime(2031, 6, 10, 10, 0, tzinfo=UTC))
    promotion_plan(promotion=promotion, now=now)
    dispatch_due(now=now)
    [to_leaver] = [m for m in mail.outbox if m.to == [leaver.email]]
    link = to_leaver.extra_headers["List-Unsubscribe"].strip("<>")
    path = link.split("://", 1)[1].split("/", 1)[1]

    confirm = client.get("/" + path)
    assert confirm.status_code == 200 and b"Unsubscribe" in confirm.content
    assert Member.objects.get(pk=leaver.pk).email_consent is True  # a GET (link preview, scanner) changes nothing
    # What a mail client does for RFC 8058 one-click: a POST without any CSRF token.
    response = client.post("/" + path, data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and b"unsubscribed" in response.content
    assert Member.objects.get(pk=leaver.pk).email_consent is False

    mail.outbox.clear()
    reminder = promotion.dispatches.get(kind="REMINDER", days_before=3)
    dispatch_due(now=reminder.scheduled_for + datetime.timedelta(minutes=1))
    assert [m.to for m in mail.outbox] == [[stayer.email]]


def test_a_forged_unsubscribe_token_is_refused(client):
    member = MemberFactory()
    from promotions.unsubscribe import unsubscribe_token

    token = unsubscribe_token(member=member)
    assert client.post(f"/promotions/unsubscribe/{token[:-2]}xx/").status_code == 404
    assert Member.objects.get(pk=member.pk).email_consent is True


def test_a_member_who_unsubscribes_mid_dispatch_is_skipped(client):
    club = ClubFactory()
    member = MemberFactory(club=club)
    promotion = EventPromotionFactory(club=club, channels=["EMAIL"], reminder_days=[])
    promotion_plan(promotion=promotion)
    dispatch = promotion.dispatches.get()
    PromotionDelivery.objects.create(dispatch=dispatch, member=member)
    Member.objects.filter(pk=member.pk).update(email_consent=False)
    dispatch_due()
    assert mail.outbox == []


def test_stop_reply_opts_the_number_out_and_the_next_text_skips_it(client, settings, sms_outbox):
    settings.SMS_GATEWAY_TOKEN = "gateway-secret"
    club = ClubFactory()
    stopper, other = MemberFactory.create_batch(2, club=club)
    url = "/promotions/sms/inbound/"
    assert client.post(url, {"from": stopper.phone, "text": "STOP"}).status_code == 401
    response = client.post(url, json.dumps({"from": stopper.phone, "text": "stop please"}),
                           content_type="application/json", HTTP_AUTHORIZATION="Bearer gateway-secret")
    assert response.json() == {"status": "opted out", "members": 1}
    assert SmsOptOut.objects.get().phone == stopper.phone
    assert client.post(url, {"from": other.phone, "text": "See you there"},
                       HTTP_AUTHORIZATION="Bearer gateway-secret").json()["status"] == "ignored"

    noon = datetime.datetime(2031, 6, 10, 12, 0, tzinfo=UTC)
    promotion = EventPromotionFactory(club=club, channels=["SMS"], reminder_days=[],
                                      event_starts_at=noon + datetime.timedelta(days=3))
    promotion_plan(promotion=promotion, now=noon)
    dispatch_due(now=noon)
    assert [t.to for t in sms_outbox] == [other.phone]


class Gateway(BaseHTTPRequestHandler):
    received = []
    answer = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Gateway.received.append((self.headers["Authorization"], json.loads(body)))
        self.send_response(Gateway.answer)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": "msg-1"}')

    def log_message(self, *args):
        pass


def test_http_gateway_backend_posts_json_with_the_token_and_reports_refusals():
    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        backend = HttpGatewaySmsBackend(url=f"http://127.0.0.1:{server.server_port}/send", token="tok", timeout=5)
        Gateway.answer = 200
        assert backend.send(SmsMessage(to="+447911123456", body="Hello", sender="Club")) == "msg-1"
        assert Gateway.received[-1] == ("Bearer tok", {"to": "+447911123456", "from": "Club", "text": "Hello"})
        backend.send(SmsMessage(to="+447911123456", body="Hello", sender="Club", reference="t:1:abc"))
        assert Gateway.received[-1][1]["reference"] == "t:1:abc"
        Gateway.answer = 503
        with pytest.raises(SmsError, match="503"):
            backend.send(SmsMessage(to="+447911123456", body="Hello", sender="Club"))
    finally:
        server.shutdown()
    with pytest.raises(SmsError, match="could not be reached"):
        HttpGatewaySmsBackend(url=f"http://127.0.0.1:{server.server_port}/send", token="t", timeout=1).send(
            SmsMessage(to="+447911123456", body="x", sender="y"))


def test_failed_gateway_sends_are_counted_failed(settings, sms_outbox):
    settings.SMS_BACKEND = "promotions.tests.test_opt_outs.RefusingBackend"
    noon = datetime.datetime(2031, 6, 10, 12, 0, tzinfo=UTC)
    club = ClubFactory()
    MemberFactory.create_batch(2, club=club)
    promotion = EventPromotionFactory(club=club, channels=["SMS"], reminder_days=[],
                                      event_starts_at=noon + datetime.timedelta(days=3))
    promotion_plan(promotion=promotion, now=noon)
    [dispatch] = dispatch_due(now=noon)
    assert (dispatch.status, dispatch.failed_count, dispatch.sent_count) == ("FAILED", 2, 0)
    assert set(PromotionDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.FAILED}


class RefusingBackend:
    def send(self, message):
        raise SmsError("The SMS gateway refused the text (HTTP 400): bad sender")


# --- STOP replies however they are written ----------------------------------------------------


@pytest.mark.parametrize("text", ["STOP", "Stop.", "stop all", " STOP! ", "Stop All!", "unsubscribe", "Cancel.",
                                  "end", "QUIT!!", "stopall", "stop please"])
def test_stop_keywords_are_case_and_punctuation_insensitive(client, settings, text):
    settings.SMS_GATEWAY_TOKEN = "gateway-secret"
    member = MemberFactory(phone="+447700900123")
    response = client.post("/promotions/sms/inbound/", {"from": member.phone, "text": text},
                           HTTP_AUTHORIZATION="Bearer gateway-secret")
    assert response.json() == {"status": "opted out", "members": 1}
    assert Member.objects.get(pk=member.pk).sms_consent is False


@pytest.mark.parametrize("text", ["See you there", "Stopping by later", "", "   ", "?!"])
def test_ordinary_replies_are_not_opt_outs(client, settings, text):
    settings.SMS_GATEWAY_TOKEN = "gateway-secret"
    member = MemberFactory(phone="+447700900123")
    response = client.post("/promotions/sms/inbound/", {"from": member.phone, "text": text},
                           HTTP_AUTHORIZATION="Bearer gateway-secret")
    assert response.json()["status"] == "ignored"
    assert Member.objects.get(pk=member.pk).sms_consent is True


@pytest.mark.parametrize("sender", ["447700900123", "+44 7700 900123", "0044 7700 900123", "+44 (0)7700 900123",
                                    "07700 900123"])
def test_the_senders_number_is_normalised_before_matching_members(client, settings, sender):
    settings.SMS_GATEWAY_TOKEN = "gateway-secret"
    settings.SMS_DEFAULT_REGION = "GB"
    member = MemberFactory(phone="+447700900123")
    response = client.post("/promotions/sms/inbound/", {"from": sender, "text": "STOP"},
                           HTTP_AUTHORIZATION="Bearer gateway-secret")
    assert response.json() == {"status": "opted out", "members": 1}
    assert Member.objects.get(pk=member.pk).sms_consent is False
    assert SmsOptOut.objects.get().phone == "+447700900123"


@pytest.mark.parametrize("payload", [{"from": "not a number", "text": "STOP"}, {"from": "+4" * 40, "text": "STOP"},
                                     {"from": "+447700900123\u0000", "text": "STOP"}])
def test_a_sender_that_is_not_a_phone_number_is_a_clear_400(client, settings, payload):
    settings.SMS_GATEWAY_TOKEN = "gateway-secret"
    response = client.post("/promotions/sms/inbound/", json.dumps(payload), content_type="application/json",
                           HTTP_AUTHORIZATION="Bearer gateway-secret")
    assert response.status_code == 400
    assert "from" in response.json()
    assert not SmsOptOut.objects.exists()


@pytest.mark.parametrize("raw", [b"[]", b"[" * 100_000, b'{"from": 5, "text": ["STOP"]}'])
def test_a_gateway_body_of_the_wrong_shape_is_a_clear_400(client, settings, raw):
    settings.SMS_GATEWAY_TOKEN = "gateway-secret"
    response = client.post("/promotions/sms/inbound/", raw, content_type="application/json",
                           HTTP_AUTHORIZATION="Bearer gateway-secret")
    assert response.status_code == 400
    assert response.json()
