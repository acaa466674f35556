import datetime
import zoneinfo

import pytest

from crm.tests.factories import ClubFactory
from promotions.models import DispatchStatus
from promotions.planning import PASSED_REASON, promotion_plan
from promotions.services import promotion_set_active, promotion_update
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db
UTC = datetime.timezone.utc
LONDON = zoneinfo.ZoneInfo("Europe/London")


def reminders(promotion, channel="EMAIL"):
    return {d.days_before: d for d in promotion.dispatches.filter(kind="REMINDER", channel=channel)}


@pytest.mark.parametrize("zone_name", ["Europe/London", "America/New_York", "Australia/Sydney"])
def test_reminders_land_at_the_club_send_time_across_a_daylight_saving_change(zone_name):
    zone = zoneinfo.ZoneInfo(zone_name)
    club = ClubFactory(timezone=zone_name, default_send_time=datetime.time(9, 0))
    # Each event sits a few days after that zone's 2031 clock change, so 7 days before is on the other side.
    event_day = {"Europe/London": datetime.date(2031, 4, 2), "America/New_York": datetime.date(2031, 3, 12),
                 "Australia/Sydney": datetime.date(2031, 4, 8)}[zone_name]
    starts = datetime.datetime.combine(event_day, datetime.time(10, 0), tzinfo=zone)
    promotion = EventPromotionFactory(club=club, event_starts_at=starts, channels=["EMAIL", "SMS"])
    promotion_plan(promotion=promotion, now=datetime.datetime(2031, 1, 1, tzinfo=UTC))

    planned = reminders(promotion)
    assert sorted(planned) == [1, 3, 7]
    for days, dispatch in planned.items():
        local = dispatch.scheduled_for.astimezone(zone)
        assert (local.date(), local.time()) == (event_day - datetime.timedelta(days=days), datetime.time(9, 0))
        assert dispatch.status == DispatchStatus.PLANNED
    offsets = {planned[d].scheduled_for.astimezone(zone).utcoffset() for d in (7, 1)}
    assert len(offsets) == 2, "the 7-day and 1-day reminders should be on different sides of the change"
    assert set(reminders(promotion, "SMS")) == {1, 3, 7}


def test_reminder_whose_moment_has_passed_is_skipped_not_sent_late():
    now = datetime.datetime(2031, 6, 10, 12, 0, tzinfo=UTC)
    promotion = EventPromotionFactory(event_starts_at=datetime.datetime(2031, 6, 13, 10, 0, tzinfo=LONDON),
                                      club__timezone="Europe/London")
    promotion_plan(promotion=promotion, now=now)
    planned = reminders(promotion)
    assert planned[7].status == DispatchStatus.SKIPPED and planned[7].status_reason == PASSED_REASON
    # 3 days before is 10 June 09:00 London = 08:00 UTC, already past at 12:00 UTC.
    assert planned[3].status == DispatchStatus.SKIPPED
    assert planned[1].status == DispatchStatus.PLANNED
    announcement = promotion.dispatches.get(kind="ANNOUNCEMENT")
    assert announcement.status == DispatchStatus.PLANNED and announcement.scheduled_for == now


def test_changes_replan_only_what_is_pending_and_deactivation_stops_it():
    now = datetime.datetime(2031, 1, 1, tzinfo=UTC)
    promotion = EventPromotionFactory(event_starts_at=datetime.datetime(2031, 2, 1, 10, 0, tzinfo=UTC))
    promotion_plan(promotion=promotion, now=now)
    sent = reminders(promotion)[7]
    sent.status = DispatchStatus.SENT
    sent.save()

    promotion.source_type = "SPECIAL"  # staff may move a SPECIAL promotion's event themselves
    promotion.save()
    promotion = promotion_update(promotion=promotion, reminder_days=[7, 2],
                                 event_starts_at=datetime.datetime(2031, 2, 3, 10, 0, tzinfo=UTC))
    planned = reminders(promotion)
    assert planned[7].status == DispatchStatus.SENT and planned[7].scheduled_for == sent.scheduled_for
    assert planned[2].status == DispatchStatus.PLANNED
    assert planned[2].scheduled_for.astimezone(LONDON).date() == datetime.date(2031, 2, 1)
    assert planned[3].status == DispatchStatus.CANCELLED and planned[1].status == DispatchStatus.CANCELLED

    promotion_set_active(promotion=promotion, active=False)
    statuses = set(promotion.dispatches.exclude(pk=sent.pk).values_list("status", flat=True))
    assert statuses == {DispatchStatus.CANCELLED}
    promotion_set_active(promotion=promotion, active=True)
    assert reminders(promotion)[2].status == DispatchStatus.PLANNED
    assert reminders(promotion)[7].status == DispatchStatus.SENT
