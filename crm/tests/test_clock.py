"""The club's clock: local wall-clock time ↔ UTC, across daylight-saving changes, in one place."""

import datetime
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from crm.clock import club_local_to_utc, club_utc_to_local

UTC = datetime.UTC
LONDON = SimpleNamespace(timezone="Europe/London")
ROOT = Path(__file__).resolve().parents[2]


def test_a_time_in_the_spring_forward_gap_moves_forward_by_the_gap():
    # 29 March 2026: London clocks go 01:00 GMT → 02:00 BST, so 01:30 never happens.
    at = club_local_to_utc(LONDON, datetime.datetime(2026, 3, 29, 1, 30))
    assert at == datetime.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert club_utc_to_local(LONDON, at).replace(tzinfo=None) == datetime.datetime(2026, 3, 29, 2, 30)


def test_a_time_in_the_autumn_overlap_is_the_first_unless_fold_asks_for_the_second():
    # 25 October 2026: 01:30 happens twice, first in BST (00:30 UTC), then in GMT (01:30 UTC).
    local = datetime.datetime(2026, 10, 25, 1, 30)
    assert club_local_to_utc(LONDON, local) == datetime.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert club_local_to_utc(LONDON, local, fold=1) == datetime.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_ordinary_times_round_trip_with_that_days_offset():
    summer, winter = datetime.datetime(2026, 7, 1, 9, 0), datetime.datetime(2026, 1, 15, 9, 0)
    assert club_local_to_utc(LONDON, summer) == datetime.datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert club_local_to_utc(LONDON, winter) == datetime.datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    for local in (summer, winter):
        assert club_utc_to_local(LONDON, club_local_to_utc(LONDON, local)).replace(tzinfo=None) == local


def test_a_time_outside_the_calendar_is_a_clear_error():
    with pytest.raises(ValidationError, match="Choose a time between"):
        club_local_to_utc(LONDON, datetime.datetime(9999, 12, 31, 23, 0))


def test_reminders_on_a_spring_forward_day_land_after_the_gap(db):
    from promotions.planning import reminder_moment

    club = SimpleNamespace(timezone="Europe/London")
    event = datetime.datetime(2026, 3, 30, 18, 0, tzinfo=UTC)
    moment = reminder_moment(event_starts_at=event, days_before=1, send_time=datetime.time(1, 30), club=club)
    assert moment == datetime.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 02:30 BST, not a time that never was


COPIES = re.compile(r"zoneinfo\.ZoneInfo\(|ZoneInfo\(str\(|tzinfo=zone|localtime\([^)]*zone")


def test_no_other_module_converts_club_times_itself():
    found = []
    for app in ("crm", "connections", "posts", "promotions", "socialcrm"):
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "/tests/" in relative or "/migrations/" in relative or relative == "crm/clock.py":
                continue
            found += [f"{relative}:{n}" for n, line in enumerate(path.read_text().splitlines(), 1) if COPIES.search(line)]
    assert not found, "use crm.clock instead: " + ", ".join(found)
