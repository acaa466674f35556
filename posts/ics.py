"""A staff member's social schedule as an iCalendar (RFC 5545) document, built with the icalendar library."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event

from posts.calendar import calendar_items

FEED_PAST_DAYS = 30
FEED_FUTURE_DAYS = 365
# Posts and promotion steps are moments; a calendar shows them as short entries.
ENTRY_LENGTH = timedelta(minutes=15)
# Each kind (posts, promotion steps, events) stops here, the earliest first: a feed stays a feed.
FEED_CAP = 2000
EVENT_LENGTH = timedelta(hours=2)


def calendar_feed_document(*, user, now=None):
    """Every post, promotion step and event the user may see, from a month ago to a year ahead."""
    now = now or timezone.now()
    items = calendar_items(user=user, start_at=now - timedelta(days=FEED_PAST_DAYS),
                           end_at=now + timedelta(days=FEED_FUTURE_DAYS), limit=FEED_CAP)
    site = settings.SITE_URL.rstrip("/")
    calendar = Calendar()
    calendar.add("prodid", "-//SocialCRM//Social schedule//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "Social schedule")
    for item in items:
        entry = Event()
        entry.add("uid", f"{item.uid}@socialcrm")
        entry.add("dtstamp", now)
        entry.add("dtstart", item.at)
        entry.add("dtend", item.at + (EVENT_LENGTH if item.kind == "event" else ENTRY_LENGTH))
        where = f"{item.network_label} " if item.network_label else ""
        entry.add("summary", f"{where}{item.kind_label} ({item.status_label}): {item.title}")
        entry.add("description", item.description)
        entry.add("url", site + item.url)
        entry.add("categories", [item.kind_label])
        calendar.add_component(entry)
    return calendar.to_ical()
