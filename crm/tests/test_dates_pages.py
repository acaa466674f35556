"""The same moment reads the same on every staff page, in the admin and on charts: the row's club clock
and its date and time style. Absurd dates are refused with a message wherever staff type one."""

import datetime
import json
import re
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connections.tests.factories import SocialConnectionFactory
from crm.models import Campaign, StaffRole
from crm.services import staff_create
from crm.tests.factories import ClubFactory, TenantFactory
from posts.models import PostMetricSnapshot, SocialPost
from posts.tests.factories import SocialPostFactory
from promotions.models import EventPromotion
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
# 13:00 UTC on Sunday 14 March 2027 is 9:00 am in New York, the morning US clocks go forward.
AT = datetime.datetime(2027, 3, 14, 13, 0, tzinfo=UTC)
SHOWN = "Sun 14 Mar 2027, 9:00 am"
PASSWORD = "a-long-passphrase-for-dates-2026"


@pytest.fixture
def world():
    tenant = TenantFactory(time_locale="en-GB")
    club = ClubFactory(tenant=tenant, name="Liberty Links", timezone="America/New_York", time_locale="en-US")
    staff_create(tenant_id=tenant.pk, username="dates-admin", password=PASSWORD, role=StaffRole.ADMIN)
    client = Client()
    assert client.login(username="dates-admin", password=PASSWORD)
    connection = SocialConnectionFactory(club=club, tenant=tenant, last_used_at=AT)
    post = SocialPostFactory(connection=connection, status="SCHEDULED", scheduled_at=AT, content="Spring opener")
    return {"tenant": tenant, "club": club, "client": client, "connection": connection, "post": post}


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_one_moment_reads_the_same_on_list_detail_calendar_dashboard_and_admin(world):
    client, post = world["client"], world["post"]
    urls = [
        reverse("posts:list"), reverse("posts:detail", args=[post.pk]),
        reverse("posts:calendar") + "?view=month&date=2027-03-14", reverse("dashboard"),
        reverse("connections:list"),
        reverse("admin:posts_socialpost_changelist"),
        reverse("admin:connections_socialconnection_changelist"),
        reverse("admin:connections_socialconnection_change", args=[world["connection"].pk]),
    ]
    for url in urls:
        assert SHOWN in page(client, url), url
    # No other way of writing it is left on those pages.
    for url in urls:
        body = page(client, url)
        assert "14 Mar 2027 13:00" not in body and "March 14, 2027" not in body and "2027-03-14 09:00" not in body


def test_promotion_list_detail_and_admin_write_the_start_alike(world):
    promotion = EventPromotionFactory(club=world["club"], event_starts_at=AT)
    for url in [reverse("promotions:list"), reverse("promotions:detail", args=[promotion.pk]),
                reverse("admin:promotions_eventpromotion_changelist")]:
        assert SHOWN in page(world["client"], url), url


def test_a_24_hour_club_and_a_read_only_admin_page(world):
    london = ClubFactory(tenant=world["tenant"], timezone="Europe/London", time_locale="en-GB")
    connection = SocialConnectionFactory(club=london, tenant=world["tenant"])
    post = SocialPostFactory(connection=connection, status="PUBLISHED", published_at=AT, scheduled_at=AT,
                             metrics_next_sync_at=AT)
    body = page(world["client"], reverse("admin:posts_socialpost_change", args=[post.pk]))
    # A published post's page is read-only: 13:00 UTC is 13:00 GMT in London in March (before BST).
    assert "Sun 14 Mar 2027, 13:00" in body
    assert "Sun 14 Mar 2027, 13:00" in page(world["client"], reverse("posts:detail", args=[post.pk]))


def test_admin_datetime_inputs_are_on_the_rows_club_clock_and_name_it(world):
    london = ClubFactory(tenant=world["tenant"], name="Albion", timezone="Europe/London")  # the signed-in club
    assert page(world["client"], reverse("dashboard")).count("Europe/London") >= 1
    client, post = world["client"], world["post"]
    post.status = "DRAFT"
    post.save()
    url = reverse("admin:posts_socialpost_change", args=[post.pk])
    body = page(client, url)
    assert 'name="scheduled_at_1" value="09:00:00"' in body
    assert "On the America/New_York clock." in body
    response = client.post(url, {
        "connection": str(world["connection"].pk), "content": "Spring opener", "media_urls": "[]", "hashtags": "[]",
        "scheduled_at_0": "14/03/2027", "scheduled_at_1": "09:30:00", "created_by": "staff"})
    assert response.status_code == 302, response.content.decode()[:3000]
    post.refresh_from_db()
    assert post.scheduled_at == datetime.datetime(2027, 3, 14, 13, 30, tzinfo=UTC)
    assert f"On the {london.timezone} clock." in page(client, reverse("admin:posts_socialpost_add"))


def test_a_tenant_wide_row_uses_the_tenants_style(world):
    world["tenant"].time_locale = "en-AU"
    world["tenant"].save()
    SocialConnectionFactory(club=None, tenant=world["tenant"], account_name="Group page",
                            last_used_at=datetime.datetime(2027, 6, 1, 22, 15, tzinfo=UTC))
    body = page(world["client"], reverse("connections:list"))
    # The staff member's club is New York (EDT, UTC-4); the tenant writes a 12-hour clock.
    assert "Tue 1 Jun 2027, 6:15 pm" in body
    assert SHOWN in body  # the club's own row keeps the club's style


def test_the_quiet_hours_note_and_other_sentences_use_the_clubs_style(world):
    from promotions.dispatching import format_clock

    assert format_clock(AT, world["club"]) == "9:00 am"


def _expected_day(moment, zone, now):
    local = moment.astimezone(ZoneInfo(zone)).date()
    text = f"{local:%a} {local.day} {local:%b}"
    return text if local.year == now.astimezone(ZoneInfo(zone)).year else f"{text} {local.year}"


def test_charts_are_labelled_on_the_clubs_clock_and_in_its_style(world):
    now = timezone.now()
    post = SocialPostFactory(connection=world["connection"], status="PUBLISHED", published_at=now - datetime.timedelta(days=3),
                             metrics_next_sync_at=now + datetime.timedelta(hours=1))
    # 03:00 UTC is still the evening before in New York: the dashboard counts it on the club's day.
    taken = (now - datetime.timedelta(days=2)).replace(hour=3, minute=0, second=0, microsecond=0)
    PostMetricSnapshot.objects.create(post=post, taken_at=taken, likes=4, impressions=40)
    PostMetricSnapshot.objects.create(post=post, taken_at=taken + datetime.timedelta(hours=10), likes=6, impressions=60)
    client = world["client"]
    dashboard = page(client, reverse("dashboard"))
    series = json.loads(re.search(r'id="engagement-data"[^>]*>(.*?)</script>', dashboard, re.S).group(1))
    labels = [point["label"] for point in series]
    assert labels == [_expected_day(taken, "America/New_York", now), _expected_day(taken + datetime.timedelta(hours=10),
                                                                                     "America/New_York", now)]
    assert "Days on the America/New_York clock" in dashboard
    detail = page(client, reverse("posts:detail", args=[post.pk]))
    points = json.loads(re.search(r'id="metrics-data"[^>]*>(.*?)</script>', detail, re.S).group(1))
    local = taken.astimezone(ZoneInfo("America/New_York"))
    hour = local.hour % 12 or 12
    assert points[0]["label"] == f"{_expected_day(taken, 'America/New_York', now)}, {hour}:00 {'am' if local.hour < 12 else 'pm'}"
    assert "Times on the America/New_York clock" in detail


def test_pickers_prefill_in_the_clubs_clock_and_name_it(world):
    client, post = world["client"], world["post"]
    detail = page(client, reverse("posts:detail", args=[post.pk]))
    assert 'value="2027-03-14T09:00"' in detail and "Publish at (America/New_York)" in detail
    promotion = EventPromotionFactory(club=world["club"], event_starts_at=AT, source_type="SPECIAL")
    form = page(client, reverse("promotions:edit", args=[promotion.pk]))
    assert 'value="2027-03-14T09:00"' in form and "Typed on the club&#x27;s clock: America/New_York." in form
    assert "Typed on the club&#x27;s clock: America/New_York." in page(client, reverse("promotions:create"))


def test_a_picked_time_is_read_on_the_clubs_clock(world):
    client, post = world["client"], world["post"]
    client.post(reverse("posts:action", args=[post.pk]), {"action": "schedule", "scheduled_local": "2027-03-14T09:30"})
    post.refresh_from_db()
    assert post.scheduled_at == datetime.datetime(2027, 3, 14, 13, 30, tzinfo=UTC)


# ----------------------------------------------------------------------------- absurd dates


ABSURD = ["0001-01-01T09:00", "9999-12-31T09:00", "1999-12-31T09:00"]


def _beyond_horizon():
    return f"{timezone.now().year + 7}-06-01T09:00"


@pytest.mark.parametrize("typed", ABSURD + ["beyond"])
def test_rescheduling_a_post_to_an_absurd_time_is_refused_with_the_range(world, typed):
    client, post = world["client"], world["post"]
    typed = _beyond_horizon() if typed == "beyond" else typed
    response = client.post(reverse("posts:action", args=[post.pk]), {"action": "schedule", "scheduled_local": typed},
                           follow=True)
    assert "Choose a time between" in response.content.decode()
    post.refresh_from_db()
    assert post.scheduled_at == AT


@pytest.mark.parametrize("typed", ABSURD + ["beyond"])
def test_the_composer_refuses_absurd_times_with_the_range(world, typed):
    typed = _beyond_horizon() if typed == "beyond" else typed
    response = world["client"].post(reverse("posts:compose"), {
        "content": "Absurd", "connections": [str(world["connection"].pk)], "intent": "schedule", "scheduled_local": typed})
    assert response.status_code == 200 and "Choose a time between" in response.content.decode()
    assert not SocialPost.objects.filter(content="Absurd").exists()


@pytest.mark.parametrize("field", ["event_starts_at", "announce_at"])
@pytest.mark.parametrize("typed", ABSURD + ["beyond"])
def test_the_promotion_form_refuses_absurd_times_with_the_range(world, field, typed):
    typed = _beyond_horizon() if typed == "beyond" else typed
    body = {"club": world["club"].pk, "event_name": "Absurd", "event_starts_at": "2027-03-14T09:00",
            "channels": ["EMAIL"], "reminder_days": "1", field: typed}
    response = world["client"].post(reverse("promotions:create"), body)
    assert response.status_code == 200 and "Choose a time between" in response.content.decode()
    assert not EventPromotion.objects.filter(event_name="Absurd").exists()


@pytest.mark.parametrize("query", ["date_from=0001-01-01", "date_to=9999-12-31", "date_from=1999-12-31"])
def test_the_posts_list_says_why_an_absurd_date_filter_was_not_used(world, query):
    assert "Choose a time between" in page(world["client"], reverse("posts:list") + "?" + query)


def test_the_posts_list_says_when_a_date_filter_is_no_date(world):
    assert "is not a date" in page(world["client"], reverse("posts:list") + "?date_from=2027-02-30")


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31"])
def test_the_calendar_says_why_it_shows_today_instead(world, day):
    assert "Choose a time between" in page(world["client"], reverse("posts:calendar") + "?date=" + day)


def test_the_admin_refuses_absurd_campaign_days_and_post_times(world):
    client = world["client"]
    response = client.post(reverse("admin:crm_campaign_add"), {"name": "Absurd", "starts_on": "0001-01-01",
                                                              "ends_on": "9999-12-31"})
    assert response.status_code == 200 and response.content.decode().count("Choose a time between") == 2
    assert not Campaign.objects.filter(name="Absurd").exists()
    draft = SocialPostFactory(connection=world["connection"], content="Draft for admin")
    response = client.post(reverse("admin:posts_socialpost_change", args=[draft.pk]), {
        "connection": str(world["connection"].pk), "content": "Draft for admin", "media_urls": "[]",
        "hashtags": "[]", "scheduled_at_0": "9999-12-31", "scheduled_at_1": "09:00", "created_by": "staff"})
    assert response.status_code == 200 and "Choose a time between" in response.content.decode()
    draft.refresh_from_db()
    assert draft.scheduled_at is None


# ----------------------------------------------------------------------------- the setting in the API


def test_the_clubs_api_gives_each_visible_clubs_clock_and_style(world):
    from rest_framework.test import APIClient

    from crm.tests.factories import StaffFactory

    other = ClubFactory(tenant=world["tenant"], name="Bay Course", timezone="Australia/Sydney", time_locale="en-AU")
    ClubFactory(name="Someone else's", time_locale="en-US")  # another tenant
    api = APIClient()
    api.force_authenticate(StaffFactory(tenant=world["tenant"]).user)
    rows = api.get("/api/v1/clubs/").json()["results"]
    assert [(r["name"], r["timezone"], r["time_locale"]) for r in rows] == [
        ("Bay Course", "Australia/Sydney", "en-AU"), ("Liberty Links", "America/New_York", "en-US")]
    limited = APIClient()
    limited.force_authenticate(StaffFactory(tenant=world["tenant"], clubs=[other]).user)
    assert [r["id"] for r in limited.get("/api/v1/clubs/").json()["results"]] == [other.pk]
    assert limited.get(f"/api/v1/clubs/{world['club'].pk}/").status_code == 404
