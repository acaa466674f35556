"""Post lists on large sets: cursor pages in the API, Older / Newer on the staff list, no count of every post."""

import base64
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import CampaignFactory, ClubFactory, StaffFactory, TenantFactory
from posts import selectors
from posts.models import SocialPost
from posts.models import SocialPostStatus as S
from posts.tests.factories import SocialPostFactory
from socialcrm.api_inputs import KeysetCursorPagination

LIST = "/api/v1/posts/"


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(KeysetCursorPagination, "page_size", 3)
    return 3


@pytest.fixture
def api(tenant):
    client = APIClient()
    client.force_authenticate(StaffFactory(tenant=tenant).user)
    return client


@pytest.fixture
def staff(client, tenant):
    client.force_login(StaffFactory(tenant=tenant).user)
    return client


def tied_posts(tenant, club=None):
    """Posts sharing publish times and creation times, drafts without a time among them: only ids tell apart."""
    conn = SocialConnectionFactory(club=club or ClubFactory(tenant=tenant), tenant=tenant)
    at = timezone.now().replace(microsecond=0) + timedelta(days=2)
    created = at - timedelta(days=30)
    posts = []
    for n in range(4):
        posts.append(SocialPostFactory(connection=conn, status=S.DRAFT, content=f"draft {n}"))
    for n in range(5):
        posts.append(SocialPostFactory(connection=conn, status=S.SCHEDULED, scheduled_at=at, content=f"tie {n}"))
    for n in range(3):
        posts.append(SocialPostFactory(connection=conn, status=S.PUBLISHED, scheduled_at=at - timedelta(days=n + 1),
                                       published_at=at - timedelta(days=n + 1), content=f"old {n}"))
    SocialPost.objects.filter(pk__in=[p.pk for p in posts[:7]]).update(created_at=created)
    return conn, posts


def list_order(posts):
    """The lists' order written out: undated first, then publish time, created, id, all newest first."""
    far = timezone.now() + timedelta(days=365 * 100)
    fresh = SocialPost.objects.in_bulk([p.pk for p in posts])
    return [str(p.pk) for p in sorted(fresh.values(), key=lambda p: (p.scheduled_at or far, p.created_at, p.pk),
                                      reverse=True)]


def walk(api, url, params=None, key="next"):
    seen, pages = [], 0
    response = api.get(url, params or {})
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        assert "count" not in body
        seen.extend(row["id"] for row in body["results"])
        pages += 1
        if not body[key]:
            return seen, pages, body
        assert pages < 50
        response = api.get(body[key])


def make_cursor(body):
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


# ----------------------------------------------------------------------------- API


def test_api_cursor_walk_gives_every_post_once_in_order_even_with_ties(api, tenant, small_pages):
    _, posts = tied_posts(tenant)
    expected = list_order(posts)
    seen, pages, last = walk(api, LIST)
    assert seen == expected and pages == 4
    # And back again from the last page through the "previous" links, page by page.
    pages_back, body = [[row["id"] for row in last["results"]]], last
    while body["previous"]:
        body = api.get(body["previous"]).json()
        pages_back.insert(0, [row["id"] for row in body["results"]])
    assert [len(p) for p in pages_back] == [3, 3, 3, 3] and sum(pages_back, []) == expected


def test_api_previous_link_returns_the_page_before(api, tenant, small_pages):
    _, posts = tied_posts(tenant)
    expected = list_order(posts)
    first = api.get(LIST).json()
    assert first["previous"] is None
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()
    again = api.get(third["previous"]).json()
    assert [r["id"] for r in again["results"]] == expected[3:6]
    assert [r["id"] for r in api.get(again["previous"]).json()["results"]] == expected[:3]


@pytest.mark.parametrize("cursor", [
    "", "junk", "!!!!", "x" * 600, "é",
    make_cursor({"t": "posts", "d": "a", "k": ["yesterday", "2030-01-01T00:00:00+00:00", "not-a-uuid"]}),
    make_cursor({"t": "posts", "d": "a", "k": ["2030-01-01T00:00:00", "2030-01-01T00:00:00+00:00",
                                              "0b7c3b7e-8d1f-4f7e-9d2c-2f7f3a1e9b10"]}),
    make_cursor({"t": "posts", "d": "sideways", "k": [None, "2030-01-01T00:00:00+00:00",
                                                     "0b7c3b7e-8d1f-4f7e-9d2c-2f7f3a1e9b10"]}),
    make_cursor({"t": "posts", "d": "a", "k": [None, None, "0b7c3b7e-8d1f-4f7e-9d2c-2f7f3a1e9b10"]}),
    make_cursor({"t": "posts", "d": "a", "k": [None]}),
    make_cursor({"t": "dispatches", "d": "a", "k": ["2030-01-01T00:00:00+00:00", "EMAIL",
                                                   "0b7c3b7e-8d1f-4f7e-9d2c-2f7f3a1e9b10"]}),
    make_cursor(["a", "b"]),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
])
def test_api_junk_cursor_is_a_400_in_the_one_error_shape(api, tenant, cursor):
    response = api.get(LIST, {"cursor": cursor})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and list(body["fields"]) == ["cursor"]
    assert "cursor" in body["fields"]["cursor"][0]


def test_api_dispatch_list_refuses_junk_cursor_and_a_posts_cursor(api, tenant, small_pages):
    tied_posts(tenant)
    posts_cursor = parse_qs(urlsplit(api.get(LIST).json()["next"]).query)["cursor"][0]
    for cursor in ("junk", posts_cursor):
        response = api.get("/api/v1/dispatches/", {"cursor": cursor})
        assert response.status_code == 400 and list(response.json()["fields"]) == ["cursor"]


def test_api_lists_never_count(api, tenant, small_pages):
    tied_posts(tenant)
    for url in (LIST, f"{LIST}?status=SCHEDULED", "/api/v1/dispatches/"):
        with CaptureQueriesContext(connection) as first:
            body = api.get(url).json()
        queries = list(first.captured_queries)
        if body["next"]:
            with CaptureQueriesContext(connection) as deeper:
                assert api.get(body["next"]).status_code == 200
            queries += deeper.captured_queries
        assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()], url


def test_api_filters_keep_working_with_cursors(api, tenant, small_pages):
    conn, posts = tied_posts(tenant)
    campaign = CampaignFactory(tenant=tenant)
    x = SocialConnectionFactory(club=conn.club, tenant=tenant, platform="TWITTER")
    at = timezone.now() + timedelta(days=4)
    in_campaign = [SocialPostFactory(connection=x, status=S.SCHEDULED, scheduled_at=at, campaign=campaign)
                   for _ in range(4)]
    SocialPostFactory(connection=x, status=S.DRAFT, campaign=campaign)
    scheduled = [p for p in posts if p.status == S.SCHEDULED] + in_campaign
    seen, pages, _ = walk(api, LIST, {"status": "SCHEDULED"})
    assert seen == list_order(scheduled) and pages == 3
    seen, _, _ = walk(api, LIST, {"status": "SCHEDULED", "campaign": str(campaign.pk)})
    assert seen == list_order(in_campaign)
    seen, _, _ = walk(api, LIST, {"platform": "twitter", "scheduled_after": (at - timedelta(hours=1)).isoformat()})
    assert seen == list_order(in_campaign)


def test_api_cursor_never_reaches_another_tenants_posts(api, tenant, small_pages):
    _, mine = tied_posts(tenant)
    other = TenantFactory()
    _, theirs = tied_posts(other)
    seen, _, _ = walk(api, LIST)
    assert seen == list_order(mine)
    # A cursor forged from their newest post's position only places the page among my own posts.
    top = SocialPost.objects.get(pk=list_order(theirs)[0])
    forged = selectors.POST_ORDER.cursor(top)
    shown, _, _ = walk(api, LIST, {"cursor": forged})
    assert set(shown) <= {str(p.pk) for p in mine}
    assert shown == [pk for pk in list_order(mine) if pk in set(shown)]
    assert not set(shown) & {str(p.pk) for p in theirs}


def test_api_dispatch_list_walks_by_cursor_in_send_order(api, club, small_pages):
    from promotions.models import PromotionDispatch
    from promotions.tests.factories import EventPromotionFactory

    at = timezone.now().replace(microsecond=0) + timedelta(days=5)
    for promotion in EventPromotionFactory.create_batch(2, club=club):
        for days in (0, 1, 2):  # two promotions send at the same moments: ties on time and channel
            for channel in ("EMAIL", "SMS"):
                PromotionDispatch.objects.create(tenant=club.tenant, promotion=promotion, kind="REMINDER",
                                                 days_before=days, channel=channel, scheduled_for=at - timedelta(days=days))
    expected = [str(pk) for pk in PromotionDispatch.objects.order_by("scheduled_for", "channel", "id").values_list(
        "pk", flat=True)]
    seen, pages, _ = walk(api, "/api/v1/dispatches/")
    assert seen == expected and pages == 4


def test_schema_documents_cursor_pages(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/posts/"]["get"]
    assert "cursor" in {p["name"] for p in operation["parameters"]}
    page = schema["components"]["schemas"]["PaginatedSocialPostList"]
    assert {"next", "previous", "results"} <= set(page["properties"]) and "count" not in page["properties"]
    assert "cursor" in {p["name"] for p in schema["paths"]["/api/v1/dispatches/"]["get"]["parameters"]}


# ----------------------------------------------------------------------------- staff list


def staff_rows(page):
    return [line.split('id="post-')[1].split('"')[0] for line in page.split("\n") if '<tr id="post-' in line]


def test_staff_list_walks_older_and_newer_with_filters(staff, tenant, monkeypatch):
    from posts import views

    monkeypatch.setattr(views, "LIST_PAGE_SIZE", 2)
    conn, posts = tied_posts(tenant)
    scheduled = list_order([p for p in posts if p.status == S.SCHEDULED])
    response = staff.get(reverse("posts:list"), {"status": "SCHEDULED"})
    seen, urls = [], []
    while True:
        page = response.content.decode()
        seen += staff_rows(page)
        older = response.context["older_url"]
        if not older:
            break
        assert "status=SCHEDULED" in older and 'rel="next"' in page
        urls.append(older)
        response = staff.get(older)
    assert seen == scheduled
    newer = response.context["newer_url"]
    assert newer and "status=SCHEDULED" in newer
    assert staff_rows(staff.get(newer).content.decode()) == scheduled[2:4]


def test_staff_list_junk_cursor_shows_the_newest_posts_with_a_warning(staff, tenant):
    _, posts = tied_posts(tenant)
    response = staff.get(reverse("posts:list"), {"cursor": "junk"})
    assert response.status_code == 200
    assert "not valid for this list" in response.content.decode()
    assert staff_rows(response.content.decode()) == list_order(posts)


def test_staff_list_counts_are_capped_and_nothing_counts_every_post(staff, tenant, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    tied_posts(tenant)
    with CaptureQueriesContext(connection) as captured:
        page = staff.get(reverse("posts:list")).content.decode()
    counts = page.split('id="post-counts"')[1].split("</p>")[0]
    assert "Draft: more than 3" in counts and "Scheduled: more than 3" in counts and "Published: 3" in counts
    # Every COUNT is over a LIMIT subquery (cap + 1 rows), never over the whole list.
    counting = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counting and all("LIMIT 4" in sql for sql in counting), counting


def test_staff_list_shows_only_the_tenants_own_posts(staff, tenant):
    _, mine = tied_posts(tenant)
    _, theirs = tied_posts(TenantFactory())
    forged = selectors.POST_ORDER.cursor(SocialPost.objects.get(pk=list_order(theirs)[0]))
    for query in ({}, {"cursor": forged}):
        shown = set(staff_rows(staff.get(reverse("posts:list"), query).content.decode()))
        assert shown and shown <= {str(p.pk) for p in mine}


def test_api_list_looks_up_the_callers_clubs_once(api, tenant, django_assert_num_queries):
    # Staff who see every club: "every club" is remembered for the request like a club list is,
    # not looked up again by the list's scope and by each id filter.
    tied_posts(tenant)
    with django_assert_num_queries(2):  # the membership's clubs, one page of posts
        assert len(api.get(LIST).json()["results"]) == 12


def test_api_publish_time_window_pages_by_cursor_and_leaves_out_undated_drafts(api, tenant, small_pages):
    _, posts = tied_posts(tenant)
    at = max(p.scheduled_at for p in posts if p.scheduled_at)
    after = [p for p in posts if p.scheduled_at and p.scheduled_at >= at - timedelta(hours=36)]
    before = [p for p in posts if p.scheduled_at and p.scheduled_at < at]
    assert len(after) == 6 and len(before) == 3
    seen, _, _ = walk(api, LIST, {"scheduled_after": (at - timedelta(hours=36)).isoformat()})
    assert seen == list_order(after)
    seen, _, _ = walk(api, LIST, {"scheduled_before": at.isoformat()})
    assert seen == list_order(before)
    seen, _, _ = walk(api, LIST, {"scheduled_after": (at - timedelta(hours=36)).isoformat(),
                                  "scheduled_before": at.isoformat()})
    assert seen == list_order([p for p in after if p in before])
