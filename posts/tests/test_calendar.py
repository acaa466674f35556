"""The calendar page, rescheduling from it, and the ICS feed."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import CampaignFactory, ClubFactory, StaffFactory
from posts import services
from posts.models import CalendarFeed, SocialPost
from posts.models import SocialPostStatus as S
from posts.tests.factories import SocialPostFactory
from promotions.models import PromotionDispatch
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def staff(club):
    return StaffFactory(tenant=club.tenant).user


@pytest.fixture
def client_for():
    def _client(user):
        client = Client()
        client.force_login(user)
        return client
    return _client


@pytest.fixture
def fb(club):
    return SocialConnectionFactory(club=club, tenant=club.tenant, account_name="Pinewood page")


def _scheduled(connection, at, **extra):
    return SocialPostFactory(connection=connection, status=S.SCHEDULED, scheduled_at=at, **extra)


def _london(*args):
    return datetime(*args, tzinfo=LONDON).astimezone(UTC)


# ----------------------------------------------------------------------------- page


def test_calendar_shows_posts_promotion_steps_and_events_with_words_not_colour_alone(club, staff, fb, client_for):
    at = timezone.now() + timedelta(days=2)
    _scheduled(fb, at, content="Spring meeting entries close")
    promotion = EventPromotionFactory(club=club, event_name="Club Championship", event_starts_at=at + timedelta(hours=3))
    PromotionDispatch.objects.create(tenant=club.tenant, promotion=promotion, kind="ANNOUNCEMENT", channel="EMAIL",
                                     scheduled_for=at + timedelta(hours=1))
    PromotionDispatch.objects.create(tenant=club.tenant, promotion=promotion, kind="REMINDER", days_before=1,
                                     channel="SMS", scheduled_for=at + timedelta(hours=2), status="CANCELLED")
    local = at.astimezone(LONDON)
    page = client_for(staff).get(reverse("posts:calendar"), {"view": "week", "date": local.date().isoformat()})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Facebook · Scheduled · Spring meeting entries close" in text
    assert "Announcement · Planned · Club Championship — announcement by Email" in text
    assert "Event · Scheduled · Club Championship" in text
    assert "Reminder 1 days before" not in text  # a cancelled step is not on the calendar
    assert 'id="calendar-legend"' in text and "Instagram" in text
    assert f'data-post="{SocialPost.objects.get().pk}"' in text  # scheduled: draggable


def test_calendar_filters_by_network_club_and_campaign(tenant, client_for):
    club, other = ClubFactory(tenant=tenant), ClubFactory(tenant=tenant)
    user = StaffFactory(tenant=tenant).user
    fb = SocialConnectionFactory(club=club, tenant=tenant)
    x = SocialConnectionFactory(club=club, tenant=tenant, platform="TWITTER")
    far = SocialConnectionFactory(club=other, tenant=tenant)
    campaign = CampaignFactory(tenant=tenant, club=club)
    at = timezone.now() + timedelta(days=1)
    _scheduled(fb, at, content="Facebook news", campaign=campaign)
    _scheduled(x, at, content="X news")
    _scheduled(far, at, content="Other club news")
    EventPromotionFactory(club=club, event_name="Medal day", event_starts_at=at)
    day = at.astimezone(LONDON).date().isoformat()
    client = client_for(user)

    def shown(**query):
        return client.get(reverse("posts:calendar"), {"view": "week", "date": day, **query}).content.decode()

    text = shown(platform="TWITTER")
    assert "X news" in text and "Facebook news" not in text and "Medal day" not in text
    text = shown(campaign=str(campaign.pk))
    assert "Facebook news" in text and "X news" not in text
    text = shown(club=other.pk)
    assert "Other club news" in text and "Facebook news" not in text and "Medal day" not in text
    text = shown(club="someone-elses-club")
    assert "news" not in text.split('id="calendar"')[1]


def test_calendar_list_view_is_in_the_page_for_narrow_screens(club, staff, fb, client_for):
    _scheduled(fb, timezone.now() + timedelta(hours=5), content="Greens are hollow-tined")
    text = client_for(staff).get(reverse("posts:calendar")).content.decode()
    agenda = text.split('id="calendar-list"')[1]
    assert "Greens are hollow-tined" in agenda and "Move to…" in agenda


# ----------------------------------------------------------------------------- moving


def test_drag_to_another_day_keeps_the_club_time_across_the_clock_change(club, staff, fb, client_for):
    post = _scheduled(fb, _london(2027, 3, 26, 10, 0))  # GMT
    answer = client_for(staff).post(reverse("posts:calendar_move"), {"post": post.pk, "date": "2027-03-29"}, **JSON)
    assert answer.status_code == 200, answer.content
    post.refresh_from_db()
    assert post.scheduled_at == datetime(2027, 3, 29, 9, 0, tzinfo=UTC)  # 10:00 BST
    body = answer.json()
    assert body["ok"] and body["time"] == "10:00" and body["previous"] == {"date": "2027-03-26", "time": "10:00"}


def test_a_move_into_the_skipped_hour_lands_after_it(club, staff, fb, client_for):
    post = _scheduled(fb, _london(2027, 3, 20, 9, 0))
    client_for(staff).post(reverse("posts:calendar_move"), {"post": post.pk, "date": "2027-03-28", "time": "01:30"},
                           **JSON)
    post.refresh_from_db()
    assert post.scheduled_at == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # 02:30 BST


def test_undo_moves_the_post_back(club, staff, fb, client_for):
    before = _london(2027, 1, 10, 18, 45)
    post = _scheduled(fb, before)
    client = client_for(staff)
    moved = client.post(reverse("posts:calendar_move"), {"post": post.pk, "date": "2027-01-12", "time": "08:15"},
                        **JSON).json()
    post.refresh_from_db()
    assert post.scheduled_at == _london(2027, 1, 12, 8, 15)
    back = client.post(reverse("posts:calendar_move"), {"post": post.pk, **moved["previous"]}, **JSON)
    assert back.json()["ok"]
    post.refresh_from_db()
    assert post.scheduled_at == before


@pytest.mark.parametrize("status", [S.PUBLISHED, S.PUBLISHING])
def test_a_post_the_schedule_service_refuses_stays_put_and_the_answer_says_why(club, staff, fb, client_for, status):
    at = timezone.now() + timedelta(days=1)
    post = SocialPostFactory(connection=fb, status=status, scheduled_at=at, published_at=at)
    answer = client_for(staff).post(reverse("posts:calendar_move"),
                                    {"post": post.pk, "date": "2027-02-01", "time": "10:00"}, **JSON)
    assert answer.status_code == 409
    assert answer.json() == {"ok": False, "message": f"Cannot schedule a post that is {status.label.lower()}: "
                                                     "only a draft can be scheduled (a failed post is retried instead)."}
    post.refresh_from_db()
    assert post.scheduled_at == at


def test_a_move_into_the_past_is_refused_with_the_reason(club, staff, fb, client_for):
    at = timezone.now() + timedelta(days=1)
    post = _scheduled(fb, at)
    yesterday = (timezone.now() - timedelta(days=1)).astimezone(LONDON).date().isoformat()
    answer = client_for(staff).post(reverse("posts:calendar_move"), {"post": post.pk, "date": yesterday}, **JSON)
    assert answer.status_code == 400 and "in the past" in answer.json()["message"]
    post.refresh_from_db()
    assert post.scheduled_at == at


def test_a_move_breaking_the_content_rules_is_refused_like_the_api(club, staff, client_for):
    x = SocialConnectionFactory(club=club, tenant=club.tenant, platform="TWITTER")
    post = _scheduled(x, timezone.now() + timedelta(days=1))
    SocialPost.objects.filter(pk=post.pk).update(content="Fairways " * 40)  # written before the rule tightened
    answer = client_for(staff).post(reverse("posts:calendar_move"),
                                    {"post": post.pk, "date": "2027-02-01", "time": "10:00"}, **JSON)
    assert answer.status_code == 400 and "280" in answer.json()["message"]


def test_another_tenants_post_cannot_be_moved(club, fb, client_for):
    post = _scheduled(fb, timezone.now() + timedelta(days=1))
    stranger = StaffFactory().user
    foreign = client_for(stranger).post(reverse("posts:calendar_move"), {"post": post.pk, "date": "2027-02-01"}, **JSON)
    missing = client_for(stranger).post(reverse("posts:calendar_move"),
                                        {"post": "00000000-0000-0000-0000-000000000000", "date": "2027-02-01"}, **JSON)
    assert foreign.status_code == missing.status_code == 404 and foreign.content == missing.content
    assert SocialPost.objects.get().scheduled_at == post.scheduled_at


def test_move_to_form_without_script_redirects_back_with_a_message(club, staff, fb, client_for):
    post = _scheduled(fb, _london(2027, 1, 10, 18, 45))
    back = reverse("posts:calendar") + "?view=month&date=2027-01-10"
    answer = client_for(staff).post(reverse("posts:calendar_move"),
                                    {"post": post.pk, "date": "2027-01-11", "time": "07:05", "next": back}, follow=True)
    assert answer.redirect_chain[-1][0] == back
    assert "Moved to Mon 11 Jan 2027, 07:05 (Europe/London)." in answer.content.decode()
    post.refresh_from_db()
    assert post.scheduled_at == _london(2027, 1, 11, 7, 5)
    elsewhere = client_for(staff).post(reverse("posts:calendar_move"),
                                       {"post": post.pk, "date": "2027-01-12", "next": "https://evil.example/"})
    assert elsewhere["Location"] == reverse("posts:calendar")


def test_a_free_slot_opens_the_composer_at_that_time(club, staff, fb, client_for):
    text = client_for(staff).get(reverse("posts:calendar"), {"view": "week", "date": "2027-01-11"}).content.decode()
    assert f'href="{reverse("posts:compose")}?at=2027-01-13T15:00"' in text
    club.default_send_time = time(7, 40)
    club.save()
    month = client_for(staff).get(reverse("posts:calendar"), {"date": "2027-01-11"}).content.decode()
    assert f'href="{reverse("posts:compose")}?at=2027-01-13T07:40"' in month  # a day: the club's usual send time
    composer = client_for(staff).get(reverse("posts:compose"), {"at": "2027-01-13T15:00"}).content.decode()
    assert 'name="scheduled_local" type="datetime-local" value="2027-01-13T15:00"' in composer


# ----------------------------------------------------------------------------- ICS feed


def _feed_url(token):
    return reverse("posts:calendar_ics", args=[token])


def test_feed_lists_posts_promotion_steps_and_events_and_stores_only_a_hash(club, staff, fb, client_for):
    at = timezone.now() + timedelta(days=3)
    post = _scheduled(fb, at, content="Captain's day draw is out")
    promotion = EventPromotionFactory(club=club, event_name="Captain's Day", event_starts_at=at + timedelta(days=1))
    PromotionDispatch.objects.create(tenant=club.tenant, promotion=promotion, kind="REMINDER", days_before=1,
                                     channel="EMAIL", scheduled_for=at)
    token = services.calendar_feed_issue(user=staff)
    stored = CalendarFeed.objects.get(user=staff)
    assert token not in stored.token_hash and stored.token_hash == services.calendar_feed_token_hash(token)
    answer = Client().get(_feed_url(token))
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(answer.content)
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    entry = events[f"post-{post.pk}@socialcrm"]
    assert entry.decoded("dtstart") == at.replace(microsecond=0) or entry.decoded("dtstart") == at
    assert "Facebook Post (Scheduled): Captain's day draw is out" == str(entry["summary"])
    assert str(events[f"event-{promotion.pk}@socialcrm"]["summary"]) == "Event (Scheduled): Captain's Day"
    assert any(str(e["summary"]).startswith("Reminder 1 days before (Planned)") for e in events.values())


def test_feed_shows_only_what_its_owner_may_see(tenant, client_for):
    mine, theirs = ClubFactory(tenant=tenant), ClubFactory(tenant=tenant)
    limited = StaffFactory(tenant=tenant, clubs=[mine]).user
    at = timezone.now() + timedelta(days=2)
    _scheduled(SocialConnectionFactory(club=mine, tenant=tenant), at, content="Our club news")
    _scheduled(SocialConnectionFactory(club=theirs, tenant=tenant), at, content="Sister club news")
    EventPromotionFactory(club=theirs, event_name="Sister Medal", event_starts_at=at)
    _scheduled(SocialConnectionFactory(), at, content="Another group's news")
    text = Client().get(_feed_url(services.calendar_feed_issue(user=limited))).content.decode()
    assert "Our club news" in text
    assert "Sister club news" not in text and "Sister Medal" not in text and "Another group" not in text


def test_a_revoked_or_replaced_feed_address_is_not_found(club, staff, client_for):
    first = services.calendar_feed_issue(user=staff)
    second = services.calendar_feed_issue(user=staff)
    assert Client().get(_feed_url(first)).status_code == 404
    assert Client().get(_feed_url(second)).status_code == 200
    assert Client().post(_feed_url(second)).status_code == 404  # the address reads only
    services.calendar_feed_revoke(user=staff)
    assert Client().get(_feed_url(second)).status_code == 404
    assert Client().get(_feed_url("not-a-token")).status_code == 404


def test_a_feed_stops_when_its_owner_leaves(club, staff):
    token = services.calendar_feed_issue(user=staff)
    staff.is_active = False
    staff.save()
    assert Client().get(_feed_url(token)).status_code == 404


def test_feed_page_makes_shows_once_and_stops_the_address(club, staff, client_for):
    client = client_for(staff)
    assert "You have no feed address." in client.get(reverse("posts:calendar_feed")).content.decode()
    made = client.post(reverse("posts:calendar_feed"), {"action": "issue"}).content.decode()
    address = made.split('id="feed-url" type="text" readonly value="')[1].split('"')[0]
    assert address.startswith("http://testserver/posts/calendar/feed/") and address.endswith(".ics")
    assert Client().get(address.replace("http://testserver", "")).status_code == 200
    again = client.get(reverse("posts:calendar_feed")).content.decode()
    assert "feed-url" not in again and "was made on" in again  # the address is not shown again
    client.post(reverse("posts:calendar_feed"), {"action": "revoke"})
    assert Client().get(address.replace("http://testserver", "")).status_code == 404
    assert not CalendarFeed.objects.exists()


def test_feed_keeps_the_earliest_entries_up_to_its_cap(club, staff, fb, monkeypatch):
    from posts import ics

    monkeypatch.setattr(ics, "FEED_CAP", 2)
    now = timezone.now()
    posts = [_scheduled(fb, now + timedelta(days=d), content=f"Entry {d}") for d in (3, 1, 2)]
    text = Client().get(_feed_url(services.calendar_feed_issue(user=staff))).content.decode()
    assert f"post-{posts[1].pk}" in text and f"post-{posts[2].pk}" in text and f"post-{posts[0].pk}" not in text


def test_calendar_and_api_refuse_the_same_move_in_the_same_words(club, staff, fb, client_for):
    from rest_framework.test import APIClient

    at = timezone.now() + timedelta(days=1)
    post = SocialPostFactory(connection=fb, status=S.PUBLISHED, scheduled_at=at, published_at=at)
    api = APIClient()
    api.force_authenticate(staff)
    target = _london(2027, 2, 1, 10, 0)
    by_api = api.post(f"/api/v1/posts/{post.pk}/schedule/", {"scheduled_at": target.isoformat()}, format="json")
    by_calendar = client_for(staff).post(reverse("posts:calendar_move"),
                                         {"post": post.pk, "date": "2027-02-01", "time": "10:00"}, **JSON)
    assert by_api.status_code == by_calendar.status_code == 409
    assert by_api.json()["detail"] == by_calendar.json()["message"]


def test_a_move_answers_in_the_clubs_clock_style(tenant, client_for):
    club = ClubFactory(tenant=tenant, timezone="America/New_York", time_locale="en-US")
    user = StaffFactory(tenant=tenant).user
    post = _scheduled(SocialConnectionFactory(club=club, tenant=tenant),
                      datetime(2027, 1, 10, 9, 0, tzinfo=ZoneInfo("America/New_York")))
    answer = client_for(user).post(reverse("posts:calendar_move"), {"post": post.pk, "date": "2027-01-12",
                                                                     "time": "21:30"}, **JSON).json()
    assert answer["clock"] == "9:30 pm" and answer["time"] == "21:30" and answer["date"] == "2027-01-12"
    assert answer["message"] == "Moved to Tue 12 Jan 2027, 9:30 pm (America/New_York)."
    page = client_for(user).get(reverse("posts:calendar"), {"view": "week", "date": "2027-01-12"}).content.decode()
    assert '<th scope="row">9:00 pm</th>' in page and 'data-time="21:00"' in page
