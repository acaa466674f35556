"""What the app accepts as a moment, a piece of text and a list: one rule per kind of value.

API serializers, filters, staff pages and services all call these, so a value refused in one
place is refused everywhere with the same words, and nothing reaches PostgreSQL that it would
reject with an error (offsets beyond ±15:59, NUL characters, dates outside its range).
"""

import datetime
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

# PostgreSQL's timestamptz refuses UTC offsets of 16 hours or more.
MAX_OFFSET = datetime.timedelta(hours=15, minutes=59)


def earliest_moment():
    return datetime.datetime(settings.INPUT_EARLIEST_YEAR, 1, 1, tzinfo=datetime.UTC)


def latest_moment(now=None):
    now = now or timezone.now()
    try:
        return now.replace(year=now.year + settings.INPUT_HORIZON_YEARS)
    except ValueError:  # 29 February
        return now.replace(year=now.year + settings.INPUT_HORIZON_YEARS, day=28)


def moment_in_range(value, *, now=None):
    """An aware moment within [INPUT_EARLIEST_YEAR, now + INPUT_HORIZON_YEARS], returned in UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime.datetime):
        raise ValidationError("Enter a date and time.", code="invalid")
    if timezone.is_naive(value):
        raise ValidationError("Include the UTC offset, e.g. 2025-06-14T10:00:00+01:00.", code="naive")
    offset = value.utcoffset()
    if abs(offset) > MAX_OFFSET:
        raise ValidationError("A UTC offset lies between -15:59 and +15:59.", code="offset")
    try:
        value = value.astimezone(datetime.UTC)
    except OverflowError:
        raise ValidationError(moment_range_message(now), code="out_of_range") from None
    if not earliest_moment() <= value <= latest_moment(now):
        raise ValidationError(moment_range_message(now), code="out_of_range")
    return value


def date_in_range(value, *, now=None):
    """A calendar date within the same range as moments (pages' date filters and calendar)."""
    if value is None:
        return None
    latest = latest_moment(now).date()
    if not earliest_moment().date() <= value <= latest:
        raise ValidationError(moment_range_message(now), code="out_of_range")
    return value


def moment_range_message(now=None):
    return (f"Choose a time between {earliest_moment():%Y-%m-%d} and {latest_moment(now):%Y-%m-%d} "
            f"({settings.INPUT_HORIZON_YEARS} years ahead).")


def readable_text(value):
    """Text PostgreSQL can store: no NUL character, no lone UTF-16 surrogate."""
    if not isinstance(value, str):
        return value
    if "\x00" in value:
        raise ValidationError("Null characters are not allowed.", code="null_characters_not_allowed")
    if any("\ud800" <= char <= "\udfff" for char in value):
        raise ValidationError("Surrogate characters are not allowed.", code="surrogate_characters_not_allowed")
    return value


def is_readable(value):
    try:
        readable_text(value)
    except ValidationError:
        return False
    return True


def distinct_items(values, *, what="item"):
    """A list without repeats: a repeated channel, day, tag or media URL is refused, not silently merged."""
    seen, repeated = set(), []
    for value in values or ():
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    if repeated:
        raise ValidationError(f"Each {what} once: {', '.join(map(str, repeated))} is repeated.", code="duplicate")
    return values


def uuid_or_none(value):
    """The UUID a query or form value names, or None when it cannot name one (so it names nothing)."""
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
