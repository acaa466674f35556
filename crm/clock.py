"""The club's clock: the one place wall-clock times of a club become instants, and back.

Staff write and read times on their club's clock (``Club.timezone``); the database holds UTC.
Daylight saving is handled here once: a wall-clock time that does not exist (the hour skipped
when clocks go forward) is moved forward by the length of the gap — 01:30 on the morning
Europe/London springs forward is 02:30 BST — and a time that happens twice (the hour repeated
when clocks go back) is the first one unless ``fold=1`` asks for the second.
"""

import datetime
import zoneinfo

from django.core.exceptions import ValidationError
from django.utils import timezone

from socialcrm.inputs import date_in_range, moment_range_message

UTC = datetime.UTC


def club_zone(club):
    """The club's timezone; without a club, the active one (the signed-in club's, else settings.TIME_ZONE)."""
    if club is None:
        return timezone.get_current_timezone()
    return zoneinfo.ZoneInfo(str(club.timezone))


def club_local_to_utc(club, naive_dt, *, fold=0):
    """The UTC instant of ``naive_dt`` on the club's clock (see the module docstring for DST)."""
    if naive_dt.tzinfo is not None:
        naive_dt = naive_dt.replace(tzinfo=None)
    try:  # the day either side too: the conversion itself must not leave the calendar
        date_in_range(naive_dt.date() - datetime.timedelta(days=1))
        date_in_range(naive_dt.date() + datetime.timedelta(days=1))
    except (ValidationError, OverflowError):
        raise ValidationError(moment_range_message(), code="out_of_range") from None
    zone = club_zone(club)
    aware = naive_dt.replace(tzinfo=zone, fold=fold)
    as_utc = aware.astimezone(UTC)
    if as_utc.astimezone(zone).replace(tzinfo=None, fold=0) != naive_dt.replace(fold=0):
        # In a gap: read with the offset from before the change, which lands past the gap.
        as_utc = naive_dt.replace(tzinfo=zone, fold=0).astimezone(UTC)
    return as_utc


def club_utc_to_local(club, aware_dt):
    """``aware_dt`` as the club's clock shows it (aware, in the club's zone); None stays None."""
    if aware_dt is None:
        return None
    return aware_dt.astimezone(club_zone(club))
