"""Posting slots, "Add to queue" and best-time hints: services, API, schema and pages."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from connections.models import PostingSlot
from connections.services import posting_slot_add
from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import ClubFactory, StaffFactory
from posts import calendar as planning
from posts import compositions, services
from posts.models import Composition, SocialPost
from posts.models import SocialPostStatus as S
from posts.tests.factories import SocialPostFactory

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def _london(*args):
    return datetime(*args, tzinfo=LONDON).astimezone(UTC)


@pytest.fixture
def fb(club):
    return SocialConnectionFactory(club=club, tenant=club.tenant, account_name="Pinewood page")


@pytest.fixture
def staff(club):
    return StaffFactory(tenant=club.tenant).user


@pytest.fixture
def api(staff):
    client = APIClient()
    client.force_authenticate(staff)
    return client


# ----------------------------------------------------------------------------- next free slot


def test_queue_takes_the_next_slot_on_the_club_clock_across_the_clock_change(fb):
    posting_slot_add(connection=fb, weekday=0, at=time(9, 0))  # Mondays 09:00
    # Friday before the clocks go forward (Sunday 28 March 2027): the next Monday is in BST.
    at = planning.queue_time(connection=fb, now=_london(2027, 3, 26, 12, 0))
    assert at == datetime(2027, 3, 29, 8, 0, tzinfo=UTC)
    # And in winter the same slot is 09:00 UTC.
    assert planning.queue_time(connection=fb, now=_london(2027, 1, 5, 12, 0)) == datetime(2027, 1, 11, 9, 0, tzinfo=UTC)


def test_queue_skips_slots_already_taken_by_a_scheduled_post_and_slots_already_past(fb):
    posting_slot_add(connection=fb, weekday=0, at=time(9, 0))
    posting_slot_add(connection=fb, weekday=0, at=time(17, 30))
    now = _london(2027, 1, 11, 10, 0)  # Monday 10:00: 09:00 has gone
    SocialPostFactory(connection=fb, status=S.SCHEDULED, scheduled_at=_london(2027, 1, 11, 17, 30))
    SocialPostFactory(connection=SocialConnectionFactory(club=fb.club, tenant=fb.tenant), status=S.SCHEDULED,
                      scheduled_at=_london(2027, 1, 18, 9, 0))  # another account's post does not take this slot
    assert planning.queue_time(connection=fb, now=now) == _london(2027, 1, 18, 9, 0)


def test_a_draft_at_a_slot_time_does_not_take_it(fb):
    posting_slot_add(connection=fb, weekday=2, at=time(12, 0))
    SocialPostFactory(connection=fb, status=S.DRAFT, scheduled_at=_london(2027, 1, 13, 12, 0))
    assert planning.queue_time(connection=fb, now=_london(2027, 1, 11, 9, 0)) == _london(2027, 1, 13, 12, 0)


def test_queue_without_slots_says_what_to_do(fb):
    with pytest.raises(ValidationError) as refused:
        planning.queue_time(connection=fb)
    assert "has no posting times yet" in refused.value.messages[0]


def test_compose_add_to_queue_schedules_each_connection_at_its_own_next_slot(club, staff, fb):
    x = SocialConnectionFactory(club=club, tenant=club.tenant, platform="TWITTER")
    posting_slot_add(connection=fb, weekday=0, at=time(9, 0))
    posting_slot_add(connection=x, weekday=3, at=time(19, 0))
    posts = services.posts_compose(tenant=club.tenant, connections=[fb, x], content="Course open", add_to_queue=True,
                                   by=staff)
    now = timezone.now()
    by_connection = {p.connection_id: p for p in posts}
    for connection, weekday, hour in ((fb, 0, 9), (x, 3, 19)):
        post = by_connection[connection.pk]
        local = post.scheduled_at.astimezone(LONDON)
        assert post.status == S.SCHEDULED and local.weekday() == weekday and (local.hour, local.minute) == (hour, 0)
        assert now < post.scheduled_at <= now + timedelta(days=7)
    again = services.posts_compose(tenant=club.tenant, connections=[fb], content="Course open again",
                                   add_to_queue=True, by=staff)
    assert again[0].scheduled_at == by_connection[fb.pk].scheduled_at + timedelta(days=7)


def test_add_to_queue_with_a_time_is_refused(club, staff, fb):
    with pytest.raises(ValidationError):
        services.posts_compose(tenant=club.tenant, connections=[fb], content="x", add_to_queue=True,
                               scheduled_at=timezone.now() + timedelta(days=1), by=staff)


def test_duplicate_slot_is_refused(fb):
    posting_slot_add(connection=fb, weekday=4, at=time(8, 0))
    with pytest.raises(ValidationError) as refused:
        posting_slot_add(connection=fb, weekday=4, at=time(8, 0))
    assert "Friday at 08:00 is already a posting time" in refused.value.messages[0]


# ----------------------------------------------------------------------------- API


def test_api_manages_posting_slots(api, fb):
    made = api.post("/api/v1/posting-slots/", {"connection": str(fb.pk), "weekday": 1, "time": "18:30"}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["weekday_display"] == "Tuesday" and made.json()["time"] == "18:30"
    listed = api.get("/api/v1/posting-slots/", {"connection": str(fb.pk)}).json()
    assert [s["time"] for s in listed["results"]] == ["18:30"]
    twice = api.post("/api/v1/posting-slots/", {"connection": str(fb.pk), "weekday": 1, "time": "18:30"}, format="json")
    assert twice.status_code == 400 and "already a posting time" in str(twice.json())
    bad = api.post("/api/v1/posting-slots/", {"connection": str(fb.pk), "weekday": 9, "time": "25:00"}, format="json")
    assert bad.status_code == 400 and {"weekday", "time"} <= set(str(bad.json()).replace("'", " ").split())
    assert api.delete(f"/api/v1/posting-slots/{made.json()['id']}/").status_code == 204
    assert not PostingSlot.objects.exists()


def test_api_cannot_add_a_slot_to_another_tenants_connection(api):
    foreign = SocialConnectionFactory()
    answer = api.post("/api/v1/posting-slots/", {"connection": str(foreign.pk), "weekday": 1, "time": "18:30"},
                      format="json")
    assert answer.status_code == 400 and not PostingSlot.objects.exists()


def test_api_post_add_to_queue(api, fb):
    posting_slot_add(connection=fb, weekday=5, at=time(7, 45))
    answer = api.post("/api/v1/posts/", {"connection": str(fb.pk), "content": "Early tee times",
                                         "add_to_queue": True}, format="json")
    assert answer.status_code == 201, answer.content
    local = datetime.fromisoformat(answer.json()["scheduled_at"]).astimezone(LONDON)
    assert answer.json()["status"] == "SCHEDULED" and local.weekday() == 5 and (local.hour, local.minute) == (7, 45)
    both = api.post("/api/v1/posts/", {"connection": str(fb.pk), "content": "x", "add_to_queue": True,
                                       "scheduled_at": "2027-01-01T10:00:00Z"}, format="json")
    assert both.status_code == 400 and "add_to_queue" in str(both.json())
    no_slots = SocialConnectionFactory(club=fb.club, tenant=fb.tenant, account_name="Spare page")
    refused = api.post("/api/v1/posts/", {"connection": str(no_slots.pk), "content": "x", "add_to_queue": True},
                       format="json")
    assert refused.status_code == 400 and "no posting times" in str(refused.json())


def test_schema_documents_slots_queue_and_best_times(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/posting-slots/"])
    assert "delete" in schema["paths"]["/api/v1/posting-slots/{id}/"]
    slot = schema["components"]["schemas"]["PostingSlot"]["properties"]
    assert slot["time"]["type"] == "string" and slot["weekday"]
    assert schema["components"]["schemas"]["PostInputRequest"]["properties"]["add_to_queue"]["type"] == "boolean"
    best = schema["paths"]["/api/v1/posts/best-times/"]["get"]["responses"]["200"]["content"]["application/json"]
    assert best["schema"]["$ref"].endswith("/BestTimes")


# ----------------------------------------------------------------------------- best times


def _published(connection, at, engagement):
    return SocialPostFactory(connection=connection, status=S.PUBLISHED, scheduled_at=at, published_at=at,
                             likes=engagement, engagement_synced_at=at + timedelta(hours=1))


def _history(fb, count, *, now):
    """``count`` posts: Tuesdays 18:00 club time draw 30 each, Thursdays 08:00 draw 4."""
    for n in range(count):
        week = now - timedelta(weeks=n // 2 + 1)
        monday = week.astimezone(LONDON).date() - timedelta(days=week.astimezone(LONDON).weekday())
        if n % 2:
            _published(fb, datetime.combine(monday + timedelta(days=1), time(18, 10), LONDON), 30)
        else:
            _published(fb, datetime.combine(monday + timedelta(days=3), time(8, 5), LONDON), 4)


def test_best_times_need_enough_published_posts(club, staff, fb):
    now = timezone.now()
    _history(fb, planning.BEST_TIME_MIN_POSTS - 1, now=now)
    assert planning.best_posting_times(user=staff, club=club, now=now) is None
    _history(fb, 1, now=now - timedelta(weeks=20))
    hints = planning.best_posting_times(user=staff, club=club, now=now)
    assert hints.sample == planning.BEST_TIME_MIN_POSTS
    assert [h.label for h in hints.hours] == ["Tuesday 18:00–19:00", "Thursday 08:00–09:00"]
    assert hints.hours[0].average == 30


def test_best_times_use_only_the_users_own_tenant(club, staff):
    other = SocialConnectionFactory()
    _history(other, planning.BEST_TIME_MIN_POSTS + 4, now=timezone.now())
    assert planning.best_posting_times(user=staff, club=club) is None


def test_composer_shows_best_times_only_with_enough_data(club, staff, fb):
    client = Client()
    client.force_login(staff)
    assert 'id="best-times"' not in client.get(reverse("posts:compose")).content.decode()
    _history(fb, planning.BEST_TIME_MIN_POSTS, now=timezone.now())
    text = client.get(reverse("posts:compose")).content.decode()
    assert 'id="best-times"' in text and "Tuesday 18:00–19:00" in text
    assert f"from {planning.BEST_TIME_MIN_POSTS} of your published posts" in text


def test_best_times_api(api, fb):
    empty = api.get("/api/v1/posts/best-times/").json()
    assert empty == {"enough_data": False, "min_posts": planning.BEST_TIME_MIN_POSTS, "sample": 0, "hours": []}
    _history(fb, planning.BEST_TIME_MIN_POSTS, now=timezone.now())
    hints = api.get("/api/v1/posts/best-times/").json()
    assert hints["enough_data"] and hints["hours"][0]["weekday"] == 1 and hints["hours"][0]["hour"] == 18


# ----------------------------------------------------------------------------- pages


def test_connection_schedule_page_adds_and_removes_times(club, staff, fb):
    client = Client()
    client.force_login(staff)
    url = reverse("connections:schedule", args=[fb.pk])
    assert "No posting times yet." in client.get(url).content.decode()
    client.post(url, {"action": "add", "weekday": "2", "time": "12:15"})
    page = client.get(url).content.decode()
    assert "Wednesday" in page and "12:15" in page
    refused = client.post(url, {"action": "add", "weekday": "2", "time": "noon"})
    assert refused.status_code == 400 and "hours and minutes" in refused.content.decode()
    slot = PostingSlot.objects.get()
    client.post(url, {"action": "remove", "slot": slot.pk})
    assert not PostingSlot.objects.exists()
    assert f'href="{url}"' in client.get(reverse("connections:list")).content.decode()


def test_connection_schedule_page_of_another_club_is_not_found(tenant):
    mine, theirs = ClubFactory(tenant=tenant), ClubFactory(tenant=tenant)
    limited = StaffFactory(tenant=tenant, clubs=[mine]).user
    conn = SocialConnectionFactory(club=theirs, tenant=tenant)
    client = Client()
    client.force_login(limited)
    assert client.post(reverse("connections:schedule", args=[conn.pk]),
                       {"action": "add", "weekday": "1", "time": "09:00"}).status_code == 404
    assert not PostingSlot.objects.exists()


def test_composer_add_to_queue_button(club, staff, fb):
    posting_slot_add(connection=fb, weekday=6, at=time(16, 0))
    client = Client()
    client.force_login(staff)
    page = client.get(reverse("posts:compose")).content.decode()
    assert 'id="add-to-queue"' in page
    client.post(reverse("posts:compose"), {"connections": [str(fb.pk)], "content": "Sunday roast", "intent": "queue"})
    post = SocialPost.objects.get()
    local = post.scheduled_at.astimezone(LONDON)
    assert post.status == S.SCHEDULED and local.weekday() == 6 and local.hour == 16


def test_best_times_are_read_on_each_posts_club_clock(tenant):
    tokyo = ClubFactory(tenant=tenant, timezone="Asia/Tokyo")
    user = StaffFactory(tenant=tenant).user
    connection = SocialConnectionFactory(club=tokyo, tenant=tenant)
    zone = ZoneInfo("Asia/Tokyo")
    now = timezone.now()
    for n in range(planning.BEST_TIME_MIN_POSTS):
        day = (now - timedelta(days=7 * (n + 1))).astimezone(zone).date()
        _published(connection, datetime.combine(day, time(7, 20), zone), 10)  # 22:20 UTC the day before
    hints = planning.best_posting_times(user=user, now=now)
    assert [(h.hour, h.posts) for h in hints.hours] == [(7, planning.BEST_TIME_MIN_POSTS)]


def test_composition_add_to_queue_schedules_each_version_at_its_accounts_next_slot(club, staff, fb):
    x = SocialConnectionFactory(club=club, tenant=club.tenant, platform="TWITTER")
    posting_slot_add(connection=fb, weekday=1, at=time(8, 30))
    posting_slot_add(connection=x, weekday=4, at=time(18, 0))
    composition = compositions.composition_create(
        tenant=club.tenant, connections=[fb, x], content="Course open", add_to_queue=True, club=club, by=staff,
        overrides={str(x.pk): {"content": "Course open ⛳"}})
    versions = {p.connection_id: p for p in composition.versions.all()}
    now = timezone.now()
    for connection, weekday, at in ((fb, 1, (8, 30)), (x, 4, (18, 0))):
        local = versions[connection.pk].scheduled_at.astimezone(LONDON)
        assert versions[connection.pk].status == S.SCHEDULED
        assert (local.weekday(), local.hour, local.minute) == (weekday, *at)
        assert now < versions[connection.pk].scheduled_at <= now + timedelta(days=7)
    again = compositions.composition_create(tenant=club.tenant, connections=[fb, x], content="Again",
                                            add_to_queue=True, club=club, by=staff)
    assert {p.connection_id: p.scheduled_at for p in again.versions.all()} == {
        pk: post.scheduled_at + timedelta(days=7) for pk, post in versions.items()}


def test_composition_add_to_queue_is_all_or_none_and_not_with_a_time(club, staff, fb):
    no_slots = SocialConnectionFactory(club=club, tenant=club.tenant, platform="TWITTER")
    posting_slot_add(connection=fb, weekday=1, at=time(8, 30))
    with pytest.raises(ValidationError):
        compositions.composition_create(tenant=club.tenant, connections=[fb, no_slots], content="x",
                                        add_to_queue=True, club=club, by=staff)
    with pytest.raises(ValidationError, match="not both"):
        compositions.composition_create(tenant=club.tenant, connections=[fb], content="x", add_to_queue=True,
                                        scheduled_at=timezone.now() + timedelta(days=1), club=club, by=staff)
    assert not SocialPost.objects.exists() and not Composition.objects.exists()


def test_composer_add_to_queue_for_several_accounts_makes_one_composition_in_their_slots(club, staff, fb):
    x = SocialConnectionFactory(club=club, tenant=club.tenant, platform="TWITTER")
    posting_slot_add(connection=fb, weekday=6, at=time(16, 0))
    posting_slot_add(connection=x, weekday=2, at=time(7, 15))
    client = Client()
    client.force_login(staff)
    response = client.post(reverse("posts:compose"), {
        "connections": [str(fb.pk), str(x.pk)], "content": "Sunday roast", f"v-{x.pk}-content": "Roast on Sunday",
        "intent": "queue"})
    composition = Composition.objects.get()
    assert response.status_code == 302 and response.url == reverse("posts:composition", args=[composition.pk])
    versions = {p.connection_id: p for p in composition.versions.all()}
    assert versions[x.pk].content == "Roast on Sunday" and versions[fb.pk].content == "Sunday roast"
    for connection, weekday, at in ((fb, 6, (16, 0)), (x, 2, (7, 15))):
        local = versions[connection.pk].scheduled_at.astimezone(LONDON)
        assert versions[connection.pk].status == S.SCHEDULED
        assert (local.weekday(), local.hour, local.minute) == (weekday, *at)
    assert "added to the queue" in client.get(response.url).content.decode()
