"""The calendar in headless Chromium: drag a post, move one with the keyboard, undo, a refused move, the list at 390 px."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import ClubFactory, StaffFactory
from posts.models import SocialPost
from posts.models import SocialPostStatus as S
from posts.tests.factories import SocialPostFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def setup(tenant):
    club = ClubFactory(tenant=tenant, timezone="America/New_York", name="Hudson Links")
    StaffFactory(tenant=tenant, user__username="pat")
    connection = SocialConnectionFactory(club=club, tenant=tenant, account_name="Hudson page")
    return club, connection


def _post_at(connection, local):
    return SocialPostFactory(connection=connection, status=S.SCHEDULED, content="Twilight golf returns",
                             scheduled_at=local.astimezone(ZoneInfo("UTC")))


def test_drag_a_post_to_another_day_and_hour_stores_the_club_time_and_undo_puts_it_back(page, login, setup):
    club, connection = setup
    day = (timezone.now() + timedelta(days=8)).astimezone(NEW_YORK).date()
    before = datetime.combine(day, time(10, 0), NEW_YORK)
    post = _post_at(connection, before)
    target = day + timedelta(days=-1 if day.weekday() == 6 else 1)
    login("pat")
    page.goto(f"/posts/calendar/?view=week&date={day.isoformat()}")
    item = page.locator(f"#calendar a.cal-post[data-post='{post.pk}']")
    assert item.inner_text().startswith("10:00 · Facebook · Scheduled")
    item.drag_to(page.locator(f"td.slot[data-date='{target.isoformat()}'][data-time='14:00']"))
    page.locator("#move-status", has_text="Moved to").wait_for()
    post.refresh_from_db()
    assert post.scheduled_at == datetime.combine(target, time(14, 0), NEW_YORK)
    assert "America/New_York" in page.inner_text("#move-status")
    moved = page.locator(f"td.slot[data-date='{target.isoformat()}'][data-time='14:00'] a.cal-post[data-post='{post.pk}']")
    assert moved.inner_text().startswith("14:00 ·")
    page.click("#move-status [data-undo]")
    page.locator("#move-status", has_text="Move undone").wait_for()
    post.refresh_from_db()
    assert post.scheduled_at == before
    page.locator(f"td.slot[data-date='{day.isoformat()}'][data-time='10:00'] a.cal-post[data-post='{post.pk}']").wait_for()


def test_keyboard_moves_a_post_and_a_refused_move_stays_put_with_the_reason(page, login, setup):
    club, connection = setup
    day = (timezone.now() + timedelta(days=8)).astimezone(NEW_YORK).date()
    post = _post_at(connection, datetime.combine(day, time(9, 30), NEW_YORK))
    login("pat")
    page.goto(f"/posts/calendar/?view=week&date={day.isoformat()}")
    item = page.locator(f"#calendar a.cal-post[data-post='{post.pk}']")
    item.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert "Move to" in page.inner_text("#move-status")
    assert page.locator(f"td.pending-target[data-date='{day.isoformat()}'][data-time='11:00']").count() == 1
    page.keyboard.press("Enter")
    page.locator("#move-status", has_text="Moved to").wait_for()
    post.refresh_from_db()
    assert post.scheduled_at == datetime.combine(day, time(11, 30), NEW_YORK)
    assert page.url.endswith(f"date={day.isoformat()}")  # Enter moved the post; it did not open it

    # A post due soon, moved a day back into the past: refused, said why, and left where it was.
    soon = (timezone.now() + timedelta(hours=3)).astimezone(NEW_YORK).replace(second=0, microsecond=0)
    near = _post_at(connection, soon)
    page.goto(f"/posts/calendar/?view=week&date={soon.date().isoformat()}")
    near_item = page.locator(f"#calendar a.cal-post[data-post='{near.pk}']")
    near_item.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Enter")
    page.locator("#move-status", has_text="in the past").wait_for()
    near.refresh_from_db()
    assert near.scheduled_at == soon
    assert page.locator(f"td.slot[data-date='{soon.date().isoformat()}'] a.cal-post[data-post='{near.pk}']").count() == 1
    assert SocialPost.objects.get(pk=post.pk).scheduled_at == datetime.combine(day, time(11, 30), NEW_YORK)

    # A click on a free part of a slot opens the composer at that slot's time.
    hour = f"{(soon.hour + 12) % 24:02d}:00"  # a slot with no post in it
    free = page.locator(f"td.slot[data-date='{soon.date().isoformat()}'][data-time='{hour}']")
    free.click(position={"x": 3, "y": 3})
    page.wait_for_url(f"**/posts/new/?at={soon.date().isoformat()}T{hour}")
    assert page.input_value("#id_scheduled_local") == f"{soon.date().isoformat()}T{hour}"


def test_at_390px_the_calendar_is_a_list_with_move_forms(page, login, setup):
    club, connection = setup
    day = (timezone.now() + timedelta(days=5)).astimezone(NEW_YORK).date()
    post = _post_at(connection, datetime.combine(day, time(16, 0), NEW_YORK))
    page.set_viewport_size({"width": 390, "height": 844})
    login("pat")
    page.goto(f"/posts/calendar/?date={day.isoformat()}")
    assert page.is_hidden("#calendar") and page.is_visible("#calendar-list")
    listed = page.locator("#calendar-list li", has_text="Twilight golf returns")
    listed.locator("summary").click()
    listed.locator("input[name=time]").fill("17:15")
    listed.locator("button[type=submit]").click()
    page.locator(".messages, .notice", has_text="Moved to").first.wait_for()
    post.refresh_from_db()
    assert post.scheduled_at == datetime.combine(day, time(17, 15), NEW_YORK)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
