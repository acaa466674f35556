"""Bad input to the API is a 4xx in the one error shape, never a 500 (reported reproductions)."""

import datetime
import json
import threading

import pytest
from django.db import close_old_connections
from django.utils import timezone
from rest_framework.test import APIClient

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import ClubFactory, StaffFactory
from posts.models import SocialPostStatus
from posts.tests.factories import SocialPostFactory
from promotions.models import EventPromotion, PromotionDispatch
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def club():
    return ClubFactory(timezone="Europe/Paris")


@pytest.fixture
def api(club):
    client = APIClient()
    client.force_authenticate(StaffFactory(tenant=club.tenant).user)
    return client


def special(club, **extra):
    starts = (timezone.now() + datetime.timedelta(days=10)).replace(microsecond=0)
    return {"club": club.pk, "event_name": "Open Day", "event_starts_at": starts.isoformat(),
            "channels": ["EMAIL", "SMS"], "reminder_days": [3, 1], **extra}


def assert_error(response, status, code=None, fields=()):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"] and isinstance(body["code"], str)
    if code:
        assert body["code"] == code
    for name in fields:
        assert name in body["fields"], body
    return body


# ------------------------------------------------------------------------------------------- times


@pytest.mark.parametrize("query", [
    "scheduled_before=2027-01-01T00:00:00%2B16:00",
    "scheduled_after=0001-01-01T00:00:00%2B15:00",
    "published_before=9999-12-31T23:59:59-15:00",
    "scheduled_before=1999-12-31T23:00:00Z",
])
def test_post_date_filters_outside_the_range_are_400(api, query):
    assert_error(api.get(f"/api/v1/posts/?{query}"), 400, "invalid", fields=[query.split("=")[0]])


def test_post_date_filter_within_the_range_still_filters(api, club):
    connection = SocialConnectionFactory(club=club)
    soon = timezone.now() + datetime.timedelta(hours=2)
    SocialPostFactory(connection=connection, status=SocialPostStatus.SCHEDULED, scheduled_at=soon)
    later = (soon + datetime.timedelta(hours=1)).astimezone(datetime.timezone(datetime.timedelta(hours=14)))
    response = api.get("/api/v1/posts/", {"scheduled_before": later.isoformat()})
    assert response.status_code == 200 and len(response.json()["results"]) == 1


def test_patch_event_start_far_in_the_past_is_400_not_500(api, club):
    promotion = api.post("/api/v1/promotions/", special(club), format="json").json()
    response = api.patch(f"/api/v1/promotions/{promotion['id']}/", {"event_starts_at": "0001-01-03T00:00:00Z"},
                         format="json")
    assert_error(response, 400, fields=["event_starts_at"])


def test_patch_event_start_into_the_past_is_refused_like_create(api, club):
    promotion = api.post("/api/v1/promotions/", special(club), format="json").json()
    yesterday = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    response = api.patch(f"/api/v1/promotions/{promotion['id']}/", {"event_starts_at": yesterday}, format="json")
    body = assert_error(response, 400, fields=["event_starts_at"])
    assert body["fields"]["event_starts_at"] == ["The event must be in the future."]


def test_schedule_beyond_the_horizon_is_400(api, club):
    post = SocialPostFactory(connection=SocialConnectionFactory(club=club))
    response = api.post(f"/api/v1/posts/{post.pk}/schedule/", {"scheduled_at": "9999-12-31T00:00:00Z"}, format="json")
    assert_error(response, 400, fields=["scheduled_at"])


# ------------------------------------------------------------------------------------------- text


@pytest.mark.parametrize("field,value", [
    ("club", "\u0000"), ("club", "\ud800"), ("event_name", "Open\u0000Day"), ("event_location", "\udfff"),
    ("segment", "\u0000"),
])
def test_nul_and_lone_surrogates_are_400(api, club, field, value):
    payload = {**special(club), field: value}
    response = api.generic("POST", "/api/v1/promotions/", json.dumps(payload), content_type="application/json")
    assert_error(response, 400, fields=[field])


def test_nul_in_a_filter_is_400(api):
    assert_error(api.get("/api/v1/promotions/?club=%00"), 400)
    assert_error(api.get("/api/v1/connections/?platform=a%00b"), 400)


# ------------------------------------------------------------------------------------------- lists


def test_a_repeated_channel_is_400_on_create_and_update(api, club):
    assert_error(api.post("/api/v1/promotions/", special(club, channels=["SMS", "SMS"]), format="json"), 400,
                 fields=["channels"])
    promotion = api.post("/api/v1/promotions/", special(club), format="json").json()
    response = api.patch(f"/api/v1/promotions/{promotion['id']}/", {"channels": ["EMAIL", "EMAIL"]}, format="json")
    assert_error(response, 400, fields=["channels"])
    assert EventPromotion.objects.get(pk=promotion["id"]).channels == ["EMAIL", "SMS"]
    response = api.patch(f"/api/v1/promotions/{promotion['id']}/", {"reminder_days": [2, 2]}, format="json")
    assert_error(response, 400, fields=["reminder_days"])


def test_repeated_hashtags_and_media_are_400(api, club):
    connection = SocialConnectionFactory(club=club)
    response = api.post("/api/v1/posts/", {"connection": str(connection.pk), "content": "Hi",
                                           "hashtags": ["golf", "golf"]}, format="json")
    assert_error(response, 400, fields=["hashtags"])


def test_stored_duplicate_channels_plan_once(club):
    """A promotion stored with a repeated channel (before this rule) still re-plans, once per channel."""
    from promotions.planning import promotion_plan

    promotion = EventPromotionFactory(club=club, channels=["SMS", "SMS"], reminder_days=[1])
    promotion_plan(promotion=promotion)
    assert PromotionDispatch.objects.filter(promotion=promotion, channel="SMS").count() == 2  # announcement + 1 day


def test_the_promotion_service_takes_a_repeated_channel_once(club):
    from promotions.services import promotion_update

    promotion = EventPromotionFactory(club=club, source_type="SPECIAL")
    promotion = promotion_update(promotion=promotion, channels=["SMS", "SMS", "EMAIL"])
    assert promotion.channels == ["SMS", "EMAIL"]


# ------------------------------------------------------------------------------------------- shape


def test_update_of_a_post_refuses_scheduled_at_as_a_field_error(api, club):
    post = SocialPostFactory(connection=SocialConnectionFactory(club=club))
    response = api.patch(f"/api/v1/posts/{post.pk}/", {"scheduled_at": timezone.now().isoformat()}, format="json")
    body = assert_error(response, 400, "invalid", fields=["scheduled_at"])
    assert body["fields"]["scheduled_at"] == ["Use the schedule action to set the publish time."]


@pytest.mark.parametrize("url,query", [
    ("/api/v1/promotions/", "is_active=maybe"), ("/api/v1/connections/", "active=2"),
    ("/api/v1/connections/", "is_active=yes please"), ("/api/v1/dispatches/", "status=NOPE"),
    ("/api/v1/promotions/", "source_type=x"), ("/api/v1/posts/", "status=nope"),
])
def test_invalid_boolean_and_enum_filters_are_400(api, url, query):
    assert_error(api.get(f"{url}?{query}"), 400, "invalid", fields=[query.split("=")[0]])


@pytest.mark.parametrize("query", ["page=", "page=0", "page=abc", "club=", "is_active="])
def test_an_empty_or_junk_page_or_filter_is_400(api, query):
    assert_error(api.get(f"/api/v1/promotions/?{query}"), 400, "invalid", fields=[query.split("=")[0]])


def test_boolean_filters_still_filter(api, club):
    EventPromotionFactory(club=club, is_active=True)
    EventPromotionFactory(club=club, is_active=False)
    assert api.get("/api/v1/promotions/?is_active=false").json()["count"] == 1
    assert api.get("/api/v1/promotions/?is_active=true").json()["count"] == 1


def test_a_too_large_body_is_a_json_413(api, settings):
    body = b'{"content": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}'
    response = api.generic("POST", "/api/v1/posts/", body, content_type="application/json")
    assert_error(response, 413, "too_large")


def test_malformed_json_is_a_json_400(api):
    response = api.generic("POST", "/api/v1/posts/", b'{"content": ', content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_an_illegal_status_change_is_409_and_unknown_ids_404(api, club):
    post = SocialPostFactory(connection=SocialConnectionFactory(club=club))  # a draft
    assert_error(api.post(f"/api/v1/posts/{post.pk}/cancel/"), 409, "illegal_transition")
    assert_error(api.get("/api/v1/posts/00000000-0000-0000-0000-000000000000/"), 404, "not_found")
    assert_error(APIClient().get("/api/v1/posts/"), 401)


def test_publish_answers_202(api, club, monkeypatch):
    from posts import publishing

    monkeypatch.setattr(publishing, "enqueue_publish", lambda **kwargs: None)
    post = SocialPostFactory(connection=SocialConnectionFactory(club=club))
    assert api.post(f"/api/v1/posts/{post.pk}/publish/").status_code == 202


# ------------------------------------------------------------------------------------------- schema


@pytest.fixture
def schema(api):
    return api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def test_schema_tells_what_the_api_answers(schema):
    components = schema["components"]["schemas"]
    assert components["SocialPost"]["properties"]["actions"]["type"] == "array"
    for name in ("event_url", "event_image_url"):
        assert components["EventPromotion"]["properties"][name].get("nullable") is True
    publish = schema["paths"]["/api/v1/posts/{id}/publish/"]["post"]["responses"]
    assert "202" in publish and "200" not in publish
    update = schema["paths"]["/api/v1/posts/{id}/"]["patch"]
    body = update["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "scheduled_at" not in components[body]["properties"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"400", "429"} <= set(operation["responses"]), (method, path)
            if "{" in path:
                assert "404" in operation["responses"], (method, path)
            if method in ("post", "put", "patch") and path != "/api/v1/events/":
                assert {"413", "415"} <= set(operation["responses"]), (method, path)
    assert "409" in schema["paths"]["/api/v1/posts/{id}/cancel/"]["post"]["responses"]
    assert components["PatchedPromotionInputRequest"]["properties"]["channels"]["uniqueItems"] is True


def test_promotion_output_shows_an_absent_link_as_null(api, club):
    promotion = EventPromotionFactory(club=club, event_url="", event_image_url="")
    body = api.get(f"/api/v1/promotions/{promotion.pk}/").json()
    assert body["event_url"] is None and body["event_image_url"] is None


# ------------------------------------------------------------------------------------------- races


@pytest.mark.django_db(transaction=True)
def test_a_patch_and_a_delete_of_one_promotion_at_once_never_500():
    club = ClubFactory(timezone="Europe/Paris")
    user = StaffFactory(tenant=club.tenant).user
    statuses = []

    def call(method, url, body=None):
        client = APIClient(raise_request_exception=False)
        client.force_authenticate(user)
        try:
            statuses.append(getattr(client, method)(url, body, format="json").status_code)
        finally:
            close_old_connections()

    setup = APIClient()
    setup.force_authenticate(user)
    for _ in range(8):
        promotion = setup.post("/api/v1/promotions/", special(club), format="json").json()
        url = f"/api/v1/promotions/{promotion['id']}/"
        threads = [threading.Thread(target=call, args=("patch", url, {"reminder_days": [5, 2], "channels": ["SMS"]})),
                   threading.Thread(target=call, args=("delete", url))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses and all(status < 500 for status in statuses), statuses
    assert set(statuses) <= {200, 204, 404}
