"""Staff pages answer junk with a page or a 4xx, never a 5xx (reported reproductions and a URL walk)."""

import datetime
import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import CampaignFactory, ClubFactory, MemberFactory, StaffFactory
from posts.models import SocialPost
from posts.tests.factories import SocialPostFactory
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def club():
    return ClubFactory(timezone="America/New_York")


@pytest.fixture
def admin_client(client, club):
    client.force_login(StaffFactory(tenant=club.tenant, role="ADMIN").user)
    client.raise_request_exception = False
    return client


@pytest.fixture
def seeded(club):
    connection = SocialConnectionFactory(club=club, tenant=club.tenant)
    return {
        "connection": connection,
        "post": SocialPostFactory(connection=connection),
        "promotion": EventPromotionFactory(club=club, source_type="SPECIAL"),
        "campaign": CampaignFactory(tenant=club.tenant),
        "member": MemberFactory(club=club),
    }


# ------------------------------------------------------------------------------------------- reproductions


@pytest.mark.parametrize("url", [
    "/posts/?date_to=9999-12-31", "/posts/?date_from=0001-01-01", "/posts/calendar/?date=9999-12-31",
    "/posts/calendar/?date=0001-01-01", "/posts/calendar/?view=week&date=9999-12-31", "/posts/?campaign=abc",
    "/connections/connect/facebook/?reconnect=notauuid",
])
def test_junk_in_page_queries_is_not_a_server_error(admin_client, url):
    assert admin_client.get(url).status_code < 500


def test_the_preview_takes_a_member_that_is_no_uuid_as_no_member(admin_client, seeded):
    response = admin_client.get(f"/promotions/{seeded['promotion'].pk}/preview/?member=notauuid")
    assert response.status_code == 200


def test_a_reconnect_of_no_connection_is_a_404(admin_client):
    assert admin_client.get("/connections/connect/facebook/?reconnect=notauuid").status_code == 404


@pytest.mark.parametrize("body", [b"[]", b"42", b'"text"', b'{"media_urls": 5}', b'{"uploads": "many"}',
                                  b'{"platforms": {"a": 1}}'])
def test_the_rules_endpoint_answers_a_body_of_the_wrong_shape_with_400(admin_client, body):
    response = admin_client.generic("POST", "/posts/rules/", body, content_type="application/json")
    assert response.status_code == 400 and "detail" in response.json()


def test_the_composer_refuses_a_publish_time_of_31_12_9999(admin_client, seeded):
    response = admin_client.post("/posts/new/", {
        "content": "Far future", "connections": [str(seeded["connection"].pk)], "intent": "schedule",
        "scheduled_local": "9999-12-31T23:00",
    })
    assert response.status_code == 200 and "Choose a time between" in response.content.decode()
    assert not SocialPost.objects.filter(content="Far future").exists()


def test_the_promotion_form_refuses_a_start_beyond_the_horizon(admin_client, club):
    response = admin_client.post("/promotions/new/", {
        "club": club.pk, "event_name": "Far", "event_starts_at": "9999-12-31T23:00", "channels": ["EMAIL"],
        "reminder_days": "1",
    })
    assert response.status_code == 200 and "Choose a time between" in response.content.decode()


def test_a_nul_in_a_page_query_is_a_400(admin_client):
    assert admin_client.get("/posts/?status=%00").status_code == 400


# ------------------------------------------------------------------------------------------- the walk

JUNK_QUERY = {
    "date": "9999-99-99", "date_from": "0000-00-00", "date_to": "99999-01-01", "view": "week", "campaign": "abc",
    "club": "' OR 1=1 --", "status": "NOPE", "platform": "myspace", "member": "notauuid", "kind": "X",
    "days": "-1e999", "reconnect": "notauuid", "page": "-1", "code": "x", "state": "x", "error": "access_denied",
}
JUNK_FORM = {
    "action": "schedule", "bulk": "retry", "post": ["abc", str(uuid.uuid4())], "scheduled_local": "9999-12-31T23:59",
    "content": "x" * 5000, "hashtags": "#" * 300, "link_url": "javascript:alert(1)", "media_urls": ["notaurl"],
    "connections": ["abc"], "campaign": "abc", "intent": "publish", "club": "nope", "event_name": "",
    "event_starts_at": "0001-01-01T00:00", "announce_at": "9999-12-31T23:59", "channels": ["SMS", "SMS", "FAX"],
    "reminder_days": "1, x, 99999", "target_radius": "-5", "default_channels": ["X"],
    "default_reminder_days": "0", "default_send_time": "25:61", "account": ["1"], "from": "+1", "text": "STOP",
}


def _routes(patterns=None, prefix=""):
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if not route.startswith(("admin", "api")):
                yield from _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and not route.startswith(("admin", "api", "media", "^")):
            yield route


def _fill(route, values):
    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: values.get(m.group(2), "junk"), route)


def _path_values(seeded):
    real = {"post_id": str(seeded["post"].pk), "pk": str(seeded["promotion"].pk), "platform": "facebook",
            "attempt_id": str(uuid.uuid4()), "token": "junk.token", "path": "x.jpg"}
    junk = {"post_id": str(uuid.uuid4()), "pk": str(uuid.uuid4()), "platform": "myspace",
            "attempt_id": str(uuid.uuid4()), "token": "a" * 300, "path": "../../etc/passwd"}
    return [real, junk, {**real, "pk": str(seeded["connection"].pk)}]


def test_every_staff_url_answers_junk_without_a_server_error(admin_client, seeded):
    routes = list(_routes())
    assert len(routes) > 20, routes  # the walk really walks
    failures = []
    for route in routes:
        for values in _path_values(seeded):
            url = _fill(route, values)
            calls = [
                ("GET", {}), ("GET", JUNK_QUERY), ("POST", JUNK_FORM), ("POST", {}),
                ("POST-JSON", b"[1, 2"), ("POST-JSON", b'{"content": null, "platforms": [null]}'),
            ]
            for method, data in calls:
                if method == "GET":
                    response = admin_client.get(url, data)
                elif method == "POST":
                    response = admin_client.post(url, data)
                else:
                    response = admin_client.generic("POST", url, data, content_type="application/json")
                if response.status_code >= 500:
                    failures.append((method, url, response.status_code))
    assert not failures, failures


def test_the_walk_also_survives_a_post_being_published_meanwhile(admin_client, seeded):
    post = seeded["post"]
    SocialPost.objects.filter(pk=post.pk).update(status="PUBLISHED", published_at=timezone.now(),
                                                 scheduled_at=timezone.now() - datetime.timedelta(hours=1))
    for action in ("schedule", "cancel", "publish", "retry", "delete", "edit", "nonsense"):
        response = admin_client.post(f"/posts/{post.pk}/action/", {**JUNK_FORM, "action": action})
        assert response.status_code < 500, action
