"""Property tests: whatever a correctly signed sender puts in the body, the events endpoint answers without a 5xx,
says what is wrong with a 400, and a refused body leaves no rows behind."""

import datetime
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.tests.factories import ClubFactory
from promotions.intake import sign
from promotions.models import EventPromotion, InboundEvent, PromotionDispatch

pytestmark = pytest.mark.django_db
URL = "/api/v1/events/"
FUZZ = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

TEXT_PATHS = [("id",), ("data", "id"), ("data", "club_id"), ("data", "name"), ("data", "location"), ("data", "url"),
              ("data", "image_url")]
ALL_PATHS = TEXT_PATHS + [("type",), ("occurred_at",), ("data",), ("data", "starts_at"), ("extra",),
                          ("data", "extra")]

# Values that have broken JSON endpoints before, mixed in so each run meets some of them.
nasty = st.sampled_from([
    "\u0000", "a\u0000b", "\ud800", "x\udfffy", float("inf"), float("-inf"), float("nan"), 10**400, 12345, 1.5, True,
    "2027-02-30T10:00:00+00:00", "2027-06-14T25:00:00+00:00", "2027-06-14T10:00:00+24:00", "0000-01-01T10:00:00Z",
    "0001-01-01T00:00:00+00:00", "9999-12-31T23:30:00Z", "2027-06-14T10:00:00", "", [], {},
])
json_scalars = (nasty | st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
                | st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(st.text(max_size=6), children, max_size=3), max_leaves=8)
offsets = st.integers(min_value=-24 * 60 + 1, max_value=24 * 60 - 1).map(
    lambda minutes: datetime.timezone(datetime.timedelta(minutes=minutes)))
real_moments = st.datetimes(min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 30),
                            timezones=st.none() | st.just(datetime.timezone.utc) | offsets).map(
    lambda moment: moment.isoformat())
moment_like = st.from_regex(r"\A\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?\Z")
field_values = st.one_of(nasty, json_scalars, json_values, real_moments, moment_like)


def signed_post(client, raw, *, secret):
    timestamp = str(int(time.time()))
    return client.post(URL, data=raw, content_type="application/json", HTTP_X_SIGNATURE_TIMESTAMP=timestamp,
                       HTTP_X_SIGNATURE=sign(secret=secret, timestamp=timestamp, body=raw))


def template(club, event_id):
    starts = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=20)).replace(microsecond=0)
    return {"id": event_id, "type": "competition.published", "tenant_id": club.tenant_id,
            "occurred_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "data": {"id": "comp-42", "club_id": club.pk, "name": "Summer Medal", "starts_at": starts.isoformat(),
                     "location": "Old Course", "url": "https://example.com/comp-42"}}


def put(body, path, value):
    target = body
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[path[-1]] = value


def encode(body, ascii_only):
    return json.dumps(body, ensure_ascii=ascii_only, allow_nan=True).encode("utf-8", "surrogatepass")


def rows():
    return InboundEvent.objects.count(), EventPromotion.objects.count(), PromotionDispatch.objects.count()


def check_answer(response, before):
    assert response.status_code < 500, response.content
    assert response.status_code in (202, 400, 401, 415, 422), response.content
    answer = response.json()
    assert isinstance(answer, dict) and answer
    if response.status_code != 202:
        assert rows() == before, "a refused event left rows behind"
    return answer


@pytest.fixture
def club():
    return ClubFactory(id="club-fuzz", timezone="Pacific/Kiritimati")


@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(ALL_PATHS), field_values), max_size=4),
       event_id=st.text(min_size=1, max_size=8), ascii_only=st.booleans())
def test_signed_events_with_any_field_values_never_5xx(client, club, changes, event_id, ascii_only):
    body = template(club, event_id)
    for path, value in changes:
        put(body, path, value)
    before = rows()
    check_answer(signed_post(client, encode(body, ascii_only), secret=club.tenant.inbound_event_secret), before)


@FUZZ
@given(path=st.sampled_from(TEXT_PATHS),
       value=st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.booleans()
       | st.lists(st.text(max_size=3).filter(lambda t: "\x00" not in t), max_size=2)
       | st.dictionaries(st.text(max_size=3).filter(lambda t: "\x00" not in t), st.integers(), max_size=2))
def test_a_non_text_value_where_text_belongs_is_a_400_naming_the_field(client, club, path, value):
    body = template(club, "evt-typed")
    put(body, path, value)
    before = rows()
    response = signed_post(client, encode(body, True), secret=club.tenant.inbound_event_secret)
    errors = check_answer(response, before)
    assert response.status_code == 400
    assert errors["code"] == "invalid"  # the API's one error shape: field errors under "fields"
    errors = errors["fields"]
    for key in path:
        errors = errors[key]
    assert errors


@FUZZ
@given(body=json_values | st.dictionaries(st.text(max_size=8), json_values, max_size=6), ascii_only=st.booleans())
def test_any_json_document_signed_for_the_tenant_never_5xx(client, club, body, ascii_only):
    if isinstance(body, dict) and body.get("tenant_id") is None:
        body["tenant_id"] = club.tenant_id
    before = rows()
    response = signed_post(client, encode(body, ascii_only), secret=club.tenant.inbound_event_secret)
    check_answer(response, before)
    if response.status_code == 401:
        assert not isinstance(body, dict) or body.get("tenant_id") != club.tenant_id


@FUZZ
@given(raw=st.binary(max_size=200) | st.binary(max_size=40).map(lambda tail: b'{"tenant_id": "' + tail))
def test_any_bytes_signed_for_the_tenant_never_5xx(client, club, raw):
    before = rows()
    check_answer(signed_post(client, raw, secret=club.tenant.inbound_event_secret), before)
