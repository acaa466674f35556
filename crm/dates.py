"""How dates and times are written for staff: one format on every page, in the admin and on charts.

"Sat 14 Mar, 09:00" for a moment in the current year and "Sat 14 Mar 2027, 09:00" otherwise, on
the clock of the row's club (``crm/clock.py``). The club's ``time_locale`` picks the clock style:
en-GB and en-IE write 24-hour times ("09:00", "21:30"), en-US and en-AU 12-hour ("9:00 am",
"9:30 pm"). A row without a club (tenant-wide) uses the tenant's ``time_locale``, made active for
the request by the club middleware, and the active timezone (the signed-in club's).

Templates use the filters in ``crm/templatetags/club_dates.py``; nothing else formats dates for
people to read (``crm/tests/test_dates.py`` checks the templates for stray formats).
"""

import contextvars
import datetime

from django.utils import timezone

from crm.clock import club_utc_to_local, club_zone
from crm.models import TimeLocale

DEFAULT_LOCALE = TimeLocale.EN_GB.value
TWELVE_HOUR = frozenset({TimeLocale.EN_US.value, TimeLocale.EN_AU.value})
PICKER_FORMAT = "%Y-%m-%dT%H:%M"  # the value of an <input type="datetime-local">, not for people to read

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")

_active_locale = contextvars.ContextVar("time_locale", default=None)


def activate(locale):
    """The style for rows without a club during this request (the tenant's): a locale, or a function that
    looks it up the first time a page needs it. Returns a token for ``deactivate``."""
    return _active_locale.set([locale])


def deactivate(token):
    _active_locale.reset(token)


def active_locale():
    holder = _active_locale.get()
    if holder is None:
        return DEFAULT_LOCALE
    if callable(holder[0]):
        holder[0] = holder[0]()
    return holder[0] if holder[0] in TimeLocale.values else DEFAULT_LOCALE


def locale_of(club):
    """The club's date and time style; without a club, the active one (the tenant's default)."""
    if club is None:
        return active_locale()
    return getattr(club, "time_locale", None) or active_locale()


def uses_twelve_hour(locale):
    return locale in TWELVE_HOUR


def _now_in(zone, now):
    return (now or timezone.now()).astimezone(zone)


def _clock(moment, locale):
    if not uses_twelve_hour(locale):
        return f"{moment.hour:02d}:{moment.minute:02d}"
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'am' if moment.hour < 12 else 'pm'}"


def _day(value, this_year):
    text = f"{WEEKDAYS[value.weekday()]} {value.day} {MONTHS[value.month - 1]}"
    return text if value.year == this_year else f"{text} {value.year}"


def format_moment(value, club=None, *, now=None):
    """An instant as staff read it: "Sat 14 Mar, 09:00" (year added outside the current one), club's clock."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        zone = club_zone(club)
        local = club_utc_to_local(club, value) if timezone.is_aware(value) else value
        return f"{_day(local, _now_in(zone, now).year)}, {_clock(local, locale_of(club))}"
    return format_day(value, club, now=now)


def format_day(value, club=None, *, now=None):
    """A calendar day: "Sat 14 Mar", or "Sat 14 Mar 2027" outside the current year. An instant gives its local day."""
    if value is None:
        return ""
    zone = club_zone(club)
    if isinstance(value, datetime.datetime):
        value = club_utc_to_local(club, value) if timezone.is_aware(value) else value
    return _day(value, _now_in(zone, now).year)


def format_clock(value, club=None):
    """Only the time of day, on the club's clock and in its style: "09:00" or "9:00 am"."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        value = club_utc_to_local(club, value)
    return _clock(value, locale_of(club))


def format_month(value):
    """A calendar heading: "March 2027"."""
    return f"{MONTH_NAMES[value.month - 1]} {value.year}"


def format_weekday(value):
    return WEEKDAYS[value.weekday()]


def iso_day(value, club=None):
    """A day as "2027-03-14" for links and form values (not for people to read); an instant gives its local day."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        value = club_utc_to_local(club, value)
    return value.strftime("%Y-%m-%d")


def picker_value(value, club=None):
    """The value that prefills an <input type="datetime-local">: the instant on the club's clock."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        value = club_utc_to_local(club, value)
    return value.strftime(PICKER_FORMAT)


def parse_picker(value):
    """The wall-clock time an <input type="datetime-local"> sent (naive), or None when it is not one."""
    for pattern in (PICKER_FORMAT, PICKER_FORMAT + ":%S"):
        try:
            return datetime.datetime.strptime(value, pattern)
        except (TypeError, ValueError):
            continue
    return None


def zone_name(club=None):
    """The timezone named beside pickers and on charts, e.g. "Europe/London"."""
    return str(club_zone(club))


CLOCK_VALUE_FORMAT = "%H:%M"  # the value of an <input type="time">, not for people to read


def clock_value(value, club=None):
    """A time of day as "09:00" for <input type="time"> and data attributes (not for people to read);
    an instant gives its time on the club's clock."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        value = club_utc_to_local(club, value)
    return value.strftime(CLOCK_VALUE_FORMAT)


def parse_clock_value(value):
    """The time of day an <input type="time"> sent (seconds dropped), or None when it is not one."""
    for pattern in (CLOCK_VALUE_FORMAT, CLOCK_VALUE_FORMAT + ":%S"):
        try:
            return datetime.datetime.strptime(str(value).strip(), pattern).time().replace(second=0)
        except (TypeError, ValueError):
            continue
    return None
