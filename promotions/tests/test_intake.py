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
    assert "type" in response.json()["fields"]
    naive = event_body(club)
    naive["data"]["starts_at"] = "2031-06-14T10:00:00"
    response = post_event(client, naive, secret=club.tenant.inbound_event_secret)
    assert response.status_code == 400 and "starts_at" in response.json()["fields"]["data"]
    response = post_event(client, None, raw=b"{not json", secret=club.tenant.inbound_event_secret)
    assert response.status_code == 400


def test_unknown_club_is_422_and_nothing_is_half_applied(client, club):
    response = post_event(client, event_body(club, club_id="nowhere"), secret=club.tenant.inbound_event_secret)
    assert response.status_code == 422
    assert not InboundEvent.objects.exists() and not EventPromotion.objects.exists()


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


# --- Event ids belong to their tenant ---------------------------------------------------------


def test_an_event_id_used_by_another_tenant_is_applied_for_the_caller_and_reveals_nothing(client, club):
    other_club = ClubFactory(id="club-rival")
    first = post_event(client, event_body(other_club, event_id="evt-shared"), secret=other_club.tenant.inbound_event_secret)
    assert first.status_code == 202
    theirs = EventPromotion.objects.get(tenant=other_club.tenant)

    mine = post_event(client, event_body(club, event_id="evt-shared"), secret=club.tenant.inbound_event_secret)
    assert mine.status_code == 202, mine.content
    assert mine.json()["status"] == "applied"
    assert mine.json()["promotion"] != str(theirs.pk)
    promotion = EventPromotion.objects.get(tenant=club.tenant)
    assert mine.json()["promotion"] == str(promotion.pk)
    assert InboundEvent.objects.filter(event_id="evt-shared").count() == 2
    assert set(InboundEvent.objects.values_list("tenant_id", flat=True)) == {club.tenant_id, other_club.tenant_id}


def test_another_tenant_cannot_pre_empt_a_genuine_event_by_sending_its_id_first(client, club):
    squatter = ClubFactory(id="club-squatter")
    squatter.tenant.auto_promote = False
    squatter.tenant.save()
    post_event(client, event_body(squatter, event_id="evt-genuine"), secret=squatter.tenant.inbound_event_secret)

    genuine = post_event(client, event_body(club, event_id="evt-genuine"), secret=club.tenant.inbound_event_secret)
    assert genuine.json()["status"] == "applied"
    assert EventPromotion.objects.filter(tenant=club.tenant, source_id="comp-42").exists()


def test_a_redelivery_answers_with_the_callers_own_outcome(client, club):
    secret = club.tenant.inbound_event_secret
    first = post_event(client, event_body(club, event_id="evt-again"), secret=secret).json()
    again = post_event(client, event_body(club, event_id="evt-again"), secret=secret).json()
    assert again == {"status": "already applied", "outcome": first["outcome"], "promotion": first["promotion"]}


def test_an_unknown_tenant_is_answered_exactly_like_a_bad_signature(client, club):
    wrong_secret = post_event(client, event_body(club), secret="not-the-secret")
    body = event_body(club)
    body["tenant_id"] = "no-such-tenant"
    unknown = post_event(client, body, secret="whatever")
    assert unknown.status_code == wrong_secret.status_code == 401
    assert unknown.json() == wrong_secret.json()
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize("raw", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"[]", b'"text"', b"null", b"42",
    b'{"id": "e", "x": 1e999}', b'{"id": "e", "x": Infinity}', b'{"id": "e", "x": NaN}', b'{"id": "e", "x": -Infinity}',
    b'{"id": "\\u0000"}', b'{"id": "e", "extra": "a\\u0000b"}', b'{"id": "e", "extra": "\\ud800"}',
    b'{"id": "e", "\\udfff": 1}', b'{"id": "caf\xe9"}', b"\xff\xfe{}", b'{"id": "e",}', b"",
])
def test_any_malformed_json_is_a_clear_400(client, club, raw):
    response = post_event(client, None, raw=raw, secret=club.tenant.inbound_event_secret)
    assert response.status_code == 400, response.content
    assert response.json()["detail"]
    assert not InboundEvent.objects.exists()


def test_the_body_must_be_sent_as_json(client, club):
    raw = json.dumps(event_body(club)).encode()
    timestamp = str(int(time.time()))
    response = client.post(URL, data=raw, content_type="text/plain", HTTP_X_SIGNATURE_TIMESTAMP=timestamp,
                           HTTP_X_SIGNATURE=sign(secret=club.tenant.inbound_event_secret, timestamp=timestamp, body=raw))
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    assert not InboundEvent.objects.exists()


# --- Values in a validly signed body ---------------------------------------------------------------------


@pytest.mark.parametrize("starts_at", [
    "2027-02-30T10:00:00+00:00", "2027-06-14T25:00:00+00:00", "2027-06-14T10:00:00+24:00", "0000-01-01T10:00:00+00:00",
    "0001-01-01T00:00:00+00:00", "9999-12-31T23:30:00Z", "1999-12-31T23:00:00+00:00", "2200-01-01T10:00:00+00:00",
])
def test_impossible_or_far_off_event_times_are_field_errors(client, club, starts_at):
    body = event_body(club)
    body["data"]["starts_at"] = starts_at
    response = post_event(client, body, secret=club.tenant.inbound_event_secret)
    assert response.status_code == 400, response.content
    assert "starts_at" in response.json()["fields"]["data"]
    assert not InboundEvent.objects.exists() and not EventPromotion.objects.exists()


@pytest.mark.parametrize("occurred_at", ["2027-02-30T10:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:30:00Z"])
def test_impossible_occurred_at_is_a_field_error(client, club, occurred_at):
    body = event_body(club)
    body["occurred_at"] = occurred_at
    response = post_event(client, body, secret=club.tenant.inbound_event_secret)
    assert response.status_code == 400, response.content
    assert "occurred_at" in response.json()["fields"]


@pytest.mark.parametrize("extra", ["nul \u0000 inside", "\ud800", 1e999, float("inf"), float("nan")])
def test_unknown_extra_fields_never_break_the_endpoint_and_are_not_stored(client, club, extra):
    body = event_body(club)
    body["note"] = extra
    body["data"]["colour"] = extra
    raw = json.dumps(body).encode("utf-8", "surrogatepass")
    response = post_event(client, None, raw=raw, secret=club.tenant.inbound_event_secret)
    assert response.status_code == 400, response.content
    assert not InboundEvent.objects.exists()


def test_harmless_unknown_fields_are_ignored_and_not_stored(client, club):
    body = event_body(club)
    body["note"] = "sent by the nightly sync"
    body["data"]["colour"] = "green"
    response = post_event(client, body, secret=club.tenant.inbound_event_secret)
    assert response.status_code == 202, response.content
    payload = InboundEvent.objects.get().payload
    assert "note" not in payload and "colour" not in payload["data"]
    assert payload["data"]["name"] == "Summer Medal"


@pytest.mark.parametrize("path", [("id",), ("tenant_id",), ("data", "id"), ("data", "club_id"), ("data", "name"),
                                  ("data", "location"), ("data", "url")])
@pytest.mark.parametrize("value", [12345, 1.5, True, ["x"], {"x": "y"}])
def test_numbers_and_other_non_strings_are_refused_where_text_is_expected(client, club, path, value):
    body = event_body(club)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    response = post_event(client, body, secret=club.tenant.inbound_event_secret)
    assert response.status_code in (400, 401), response.content
    if path != ("tenant_id",):
        assert response.status_code == 400
        errors = response.json()["fields"]
        for key in path[:-1]:
            errors = errors[key]
        assert path[-1] in errors
    assert not InboundEvent.objects.exists() and not EventPromotion.objects.exists()


@pytest.mark.parametrize("path", [("id",), ("data", "id"), ("data", "name"), ("data", "location"), ("data", "club_id")])
def test_nul_characters_are_refused_in_every_text_field(client, club, path):
    body = event_body(club)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "bad\u0000value"
    response = post_event(client, body, secret=club.tenant.inbound_event_secret)
    assert response.status_code == 400, response.content
    assert not InboundEvent.objects.exists()


def test_a_published_event_that_has_already_started_is_not_promoted(client, club):
    past = (timezone.now() - datetime.timedelta(days=1)).replace(microsecond=0)
    response = post_event(client, event_body(club, starts_at=past), secret=club.tenant.inbound_event_secret)
    assert response.status_code == 202, response.content
    assert response.json()["promotion"] is None
    assert "already started" in response.json()["outcome"]
    assert not EventPromotion.objects.exists() and not PromotionDispatch.objects.exists()


def test_the_events_endpoint_is_throttled(client, club, settings, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    assert "events" in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"events": "2/min"})
    secret = club.tenant.inbound_event_secret
    answers = [post_event(client, event_body(club, event_id=f"evt-{n}"), secret=secret).status_code for n in range(3)]
    assert answers == [202, 202, 429]
