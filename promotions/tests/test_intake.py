import datetime
import json
import time

import pytest
from django.core import mail
from django.utils import timezone

from crm.tests.factories import ClubFactory, MemberFactory
from promotions.dispatching import dispatch_due
from promotions.intake import sign
from promotions.models import DispatchStatus, EventPromotion, InboundEvent, PromotionDispatch

pytestmark = pytest.mark.django_db
URL = "/api/v1/events/"


@pytest.fixture
def club():
    return ClubFactory(id="club-sunny", timezone="Europe/London")


def event_body(club, *, event_id="evt-1", type_="competition.published", starts_at=None, **data):
    starts_at = starts_at or (timezone.now() + datetime.timedelta(days=20)).replace(microsecond=0)
    return {
        "id": event_id, "type": type_, "tenant_id": club.tenant_id, "occurred_at": timezone.now().isoformat(),
        "data": {"id": "comp-42", "club_id": club.pk, "name": "Summer Medal", "starts_at": starts_at.isoformat(),
                 "location": "Old Course", "url": "https://example.com/comp-42", **data},
    }


def post_event(client, body, *, secret, timestamp=None, raw=None, headers=None):
    raw = raw if raw is not None else json.dumps(body).encode()
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signed = {"HTTP_X_SIGNATURE_TIMESTAMP": timestamp, "HTTP_X_SIGNATURE": sign(secret=secret, timestamp=timestamp, body=raw)}
    return client.post(URL, data=raw, content_type="application/json", **(signed if headers is None else headers))


def test_valid_signature_creates_the_promotion_and_its_plan(client, club):
    response = post_event(client, event_body(club), secret=club.tenant.inbound_event_secret)
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "applied"
    promotion = EventPromotion.objects.get(tenant=club.tenant, source_type="COMPETITION", source_id="comp-42")
    assert promotion.channels == club.tenant.default_channels
    assert promotion.reminder_days == [7, 3, 1]
    steps = set(promotion.dispatches.values_list("kind", "days_before", "channel"))
    assert steps == {(k, d, c) for k, d in [("ANNOUNCEMENT", 0), ("REMINDER", 7), ("REMINDER", 3), ("REMINDER", 1)]
                     for c in ["EMAIL", "SMS", "SOCIAL"]}
    assert InboundEvent.objects.get(event_id="evt-1").promotion == promotion


@pytest.mark.parametrize("case", ["wrong secret", "stale", "future", "tampered body", "no signature", "no timestamp",
                                  "bad scheme"])
def test_bad_signatures_are_refused_and_change_nothing(client, club, case):
    body = event_body(club)
    raw = json.dumps(body).encode()
    secret = club.tenant.inbound_event_secret
    now = int(time.time())
    good = sign(secret=secret, timestamp=str(now), body=raw)
    headers = {
        "wrong secret": {"HTTP_X_SIGNATURE_TIMESTAMP": str(now),
                         "HTTP_X_SIGNATURE": sign(secret="not-the-secret", timestamp=str(now), body=raw)},
        "stale": {"HTTP_X_SIGNATURE_TIMESTAMP": str(now - 301),
                  "HTTP_X_SIGNATURE": sign(secret=secret, timestamp=str(now - 301), body=raw)},
        "future": {"HTTP_X_SIGNATURE_TIMESTAMP": str(now + 301),
                   "HTTP_X_SIGNATURE": sign(secret=secret, timestamp=str(now + 301), body=raw)},
        "tampered body": {"HTTP_X_SIGNATURE_TIMESTAMP": str(now), "HTTP_X_SIGNATURE": good},
        "no signature": {"HTTP_X_SIGNATURE_TIMESTAMP": str(now)},
        "no timestamp": {"HTTP_X_SIGNATURE": good},
        "bad scheme": {"HTTP_X_SIGNATURE_TIMESTAMP": str(now), "HTTP_X_SIGNATURE": good.replace("sha256=", "md5=")},
    }[case]
    if case == "tampered body":
        raw = raw.replace(b"Summer Medal", b"Winter Medal")
    response = client.post(URL, data=raw, content_type="application/json", **headers)
    assert response.status_code == 401, response.content
    assert not EventPromotion.objects.exists()
    assert not InboundEvent.objects.exists()


def test_the_same_event_id_twice_is_applied_once(client, club):
    body = event_body(club)
    secret = club.tenant.inbound_event_secret
    first = post_event(client, body, secret=secret)
    dispatches = PromotionDispatch.objects.count()
    body["data"]["name"] = "Renamed on redelivery"
    second = post_event(client, body, secret=secret)
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json()["status"] == "already applied"
    assert InboundEvent.objects.count() == 1
    assert EventPromotion.objects.get().event_name == "Summer Medal"
    assert PromotionDispatch.objects.count() == dispatches


def test_malformed_body_is_400_with_field_errors(client, club):
    body = event_body(club, type_="competition.exploded")
    del body["data"]["starts_at"]
    response = post_event(client, body, secret=club.tenant.inbound_event_secret)
    assert response.status_code == 400
    assert "type" in response.json()
    naive = event_body(club)
    naive["data"]["starts_at"] = "2031-06-14T10:00:00"
    response = post_event(client, naive, secret=club.tenant.inbound_event_secret)
    assert response.status_code == 400 and "starts_at" in response.json()["data"]
    response = post_event(client, None, raw=b"{not json", secret=club.tenant.inbound_event_secret)
    assert response.status_code == 400


def test_unknown_club_or_tenant_is_422_and_nothing_is_half_applied(client, club):
    response = post_event(client, event_body(club, club_id="nowhere"), secret=club.tenant.inbound_event_secret)
    assert response.status_code == 422
    assert not InboundEvent.objects.exists() and not EventPromotion.objects.exists()
    body = event_body(club)
    body["tenant_id"] = "no-such-tenant"
    assert post_event(client, body, secret="x").status_code == 422


def test_updated_moves_the_plan_with_the_event(client, club):
    secret = club.tenant.inbound_event_secret
    starts = (timezone.now() + datetime.timedelta(days=20)).replace(microsecond=0)
    post_event(client, event_body(club, starts_at=starts), secret=secret)
    promotion = EventPromotion.objects.get()
    before = promotion.dispatches.get(kind="REMINDER", days_before=3, channel="EMAIL").scheduled_for
    moved = starts + datetime.timedelta(days=5)
    response = post_event(client, event_body(club, event_id="evt-2", type_="competition.updated", starts_at=moved,
                                             name="Summer Medal (moved)"), secret=secret)
    assert response.status_code == 202
    promotion.refresh_from_db()
    assert promotion.event_name == "Summer Medal (moved)"
    assert promotion.event_starts_at == moved
    after = promotion.dispatches.get(kind="REMINDER", days_before=3, channel="EMAIL").scheduled_for
    assert after - before == datetime.timedelta(days=5)


def test_cancelled_cancels_pending_dispatches_and_nothing_goes_out_after(client, club):
    MemberFactory.create_batch(3, club=club)
    secret = club.tenant.inbound_event_secret
    post_event(client, event_body(club), secret=secret)
    response = post_event(client, event_body(club, event_id="evt-3", type_="competition.cancelled"), secret=secret)
    assert response.status_code == 202
    promotion = EventPromotion.objects.get()
    assert promotion.event_status == "CANCELLED"
    assert set(promotion.dispatches.values_list("status", flat=True)) == {DispatchStatus.CANCELLED}
    dispatch_due(now=timezone.now() + datetime.timedelta(days=30))
    assert mail.outbox == []
    assert set(promotion.dispatches.values_list("status", flat=True)) == {DispatchStatus.CANCELLED}


def test_published_is_ignored_when_the_tenant_does_not_auto_promote(client, club):
    club.tenant.auto_promote = False
    club.tenant.save()
    response = post_event(client, event_body(club), secret=club.tenant.inbound_event_secret)
    assert response.status_code == 202
    assert not EventPromotion.objects.exists()
    assert "auto-promote is off" in InboundEvent.objects.get().outcome


def test_the_payload_is_documented_in_the_openapi_schema(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/events/"]["post"]
    assert {p["name"] for p in operation["parameters"]} >= {"X-Signature", "X-Signature-Timestamp"}
    assert set(operation["responses"]) >= {"202", "400", "401", "422"}
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][ref]["properties"]) == {"id", "type", "tenant_id", "occurred_at", "data"}
