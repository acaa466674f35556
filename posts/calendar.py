"""Reads for planning: the calendar's items (posts beside promotions' steps and events), the next free
posting slot of a connection, and best-time hints from the tenant's own published posts.

Every query goes through the user's tenancy scope; every wall-clock time goes through ``crm.clock``.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from connections.models import PostingSlot, SocialPlatform
from crm import dates
from crm.clock import club_local_to_utc, club_utc_to_local, club_zone
from crm.tenancy import scope_queryset
from posts.models import SocialPost, SocialPostStatus
from posts.selectors import post_list
from promotions.models import DispatchKind, DispatchStatus, EventPromotion, PromotionDispatch

# Posts staff may drag to another time: the ones the schedule action accepts with a time already set.
MOVABLE = (SocialPostStatus.SCHEDULED,)
# Promotion steps that will not go out are left off the calendar.
HIDDEN_DISPATCH = (DispatchStatus.CANCELLED, DispatchStatus.SKIPPED)


@dataclass
class CalendarItem:
    kind: str  # "post", "announcement", "reminder" or "event"
    kind_label: str
    at: datetime  # UTC
    local: datetime  # on the calendar's club clock
    title: str
    status: str
    status_label: str
    network: str  # a platform code for posts, "" otherwise
    network_label: str
    url: str
    uid: str
    movable: bool = False
    post_id: str = ""
    description: str = ""
    post: SocialPost | None = None  # the post itself, for what the entry shows beyond these fields
    day_value: str = ""  # "2027-03-14" and "09:00" on the calendar's clock: data attributes and form values
    time_value: str = ""

    def __post_init__(self):
        self.day_value = dates.iso_day(self.local.replace(tzinfo=None))
        self.time_value = dates.clock_value(self.local.replace(tzinfo=None))


def _post_item(post, zone_club):
    published = post.status == SocialPostStatus.PUBLISHED
    at = post.published_at if published else post.scheduled_at
    return CalendarItem(
        kind="post", kind_label="Post", at=at, local=club_utc_to_local(zone_club, at), title=str(post),
        status=post.status, status_label=post.get_status_display(), network=post.connection.platform,
        network_label=post.connection.get_platform_display(), url=reverse("posts:detail", args=[post.pk]),
        uid=f"post-{post.pk}", movable=post.status in MOVABLE, post_id=str(post.pk), post=post,
        description=f"{post.connection.get_platform_display()} · {post.connection.account_name}\n{post.content}",
    )


def _dispatch_item(dispatch, zone_club):
    step = "Announcement" if dispatch.kind == DispatchKind.ANNOUNCEMENT else f"Reminder {dispatch.days_before} days before"
    return CalendarItem(
        kind=dispatch.kind.lower(), kind_label=step, at=dispatch.scheduled_for,
        local=club_utc_to_local(zone_club, dispatch.scheduled_for),
        title=f"{dispatch.promotion.event_name} — {step.lower()} by {dispatch.get_channel_display()}",
        status=dispatch.status, status_label=dispatch.get_status_display(), network="", network_label="",
        url=reverse("promotions:detail", args=[dispatch.promotion_id]), uid=f"dispatch-{dispatch.pk}",
        description=f"{step} of {dispatch.promotion.event_name} by {dispatch.get_channel_display()}",
    )


def _event_item(promotion, zone_club):
    return CalendarItem(
        kind="event", kind_label="Event", at=promotion.event_starts_at,
        local=club_utc_to_local(zone_club, promotion.event_starts_at), title=promotion.event_name,
        status=promotion.event_status, status_label=promotion.get_event_status_display(), network="", network_label="",
        url=reverse("promotions:detail", args=[promotion.pk]), uid=f"event-{promotion.pk}",
        description=" · ".join(part for part in (promotion.event_name, promotion.event_location) if part),
    )


def calendar_items(*, user, club=None, start_at, end_at, filters=None, zone_club=None, limit=None):
    """Posts, promotion steps and events in [start_at, end_at), in time order.

    ``club`` narrows to one club (and tenant-wide posts); ``filters`` takes the posts list's ``platform``,
    ``club`` and ``campaign``. A network filter shows posts only: promotion steps and events have no network.
    ``limit`` caps each kind (the earliest first), for the feed's long window.
    """
    filters = {k: v for k, v in (filters or {}).items() if k in ("platform", "club", "campaign") and v}
    zone_club = zone_club or club
    posts = post_list(user=user, club=club, filters=filters).filter(
        Q(status=SocialPostStatus.PUBLISHED, published_at__gte=start_at, published_at__lt=end_at)
        | (~Q(status=SocialPostStatus.PUBLISHED) & Q(scheduled_at__gte=start_at, scheduled_at__lt=end_at))
    ).order_by(Coalesce("published_at", "scheduled_at"), "pk")
    items = [_post_item(post, zone_club) for post in posts[:limit]]
    if not filters.get("platform"):
        promotions = scope_queryset(EventPromotion.objects.all(), user)
        if club is not None:
            promotions = promotions.filter(club=club)
        if filters.get("club"):
            promotions = promotions.filter(club_id=filters["club"])
        if filters.get("campaign"):
            promotions = promotions.filter(campaign_id=filters["campaign"])
        dispatches = (PromotionDispatch.objects.filter(promotion__in=promotions.values("pk"))
                      .filter(scheduled_for__gte=start_at, scheduled_for__lt=end_at)
                      .exclude(status__in=HIDDEN_DISPATCH).select_related("promotion").order_by("scheduled_for", "pk"))
        items += [_dispatch_item(d, zone_club) for d in dispatches[:limit]]
        events = promotions.filter(event_starts_at__gte=start_at, event_starts_at__lt=end_at).order_by("event_starts_at", "pk")
        items += [_event_item(p, zone_club) for p in events[:limit]]
    items.sort(key=lambda item: (item.at, item.kind, item.uid))
    return items


def calendar_days(*, user, club, start, end, filters=None):
    """Items between two dates on the club's clock, keyed by the club's date."""
    start_at = club_local_to_utc(club, datetime.combine(start, time.min))
    end_at = club_local_to_utc(club, datetime.combine(end, time.min))
    by_day = defaultdict(list)
    for item in calendar_items(user=user, club=club, start_at=start_at, end_at=end_at, filters=filters):
        by_day[item.local.date()].append(item)
    return dict(by_day)


def calendar_legend():
    """What the colours mean, in words: each network, and each status a post can show."""
    return {"networks": list(SocialPlatform.choices),
            "statuses": [(value, label) for value, label in SocialPostStatus.choices if value != SocialPostStatus.DRAFT]}


# ----------------------------------------------------------------------------- posting schedule

QUEUE_HORIZON_DAYS = 91


def queue_time(*, connection, club=None, now=None, taken=()):
    """The next posting slot of ``connection`` that is still ahead and free of a scheduled post.

    Slots are wall-clock times on the club's clock (the connection's club, else ``club``), turned into
    instants day by day through ``crm.clock``, so a 09:00 slot stays 09:00 across a clock change.
    ``taken`` adds instants already claimed in the same request.
    """
    now = now or timezone.now()
    slots = list(PostingSlot.objects.filter(connection=connection).order_by("weekday", "time"))
    if not slots:
        raise ValidationError({"connection": (
            f"{connection.get_platform_display()} account “{connection.account_name}” has no posting times yet; "
            "add some on its posting schedule.")})
    clock = connection.club or club
    busy = set(SocialPost.objects.filter(
        connection=connection, status__in=(SocialPostStatus.SCHEDULED, SocialPostStatus.PUBLISHING),
        scheduled_at__gt=now).values_list("scheduled_at", flat=True)) | set(taken)
    today = club_utc_to_local(clock, now).date()
    by_weekday = defaultdict(list)
    for slot in slots:
        by_weekday[slot.weekday].append(slot.time)
    for offset in range(QUEUE_HORIZON_DAYS):
        day = today + timedelta(days=offset)
        for at_time in by_weekday.get(day.weekday(), ()):
            at = club_local_to_utc(clock, datetime.combine(day, at_time))
            if at > now and at not in busy:
                return at
    raise ValidationError({"connection": (
        f"Every posting time of {connection.get_platform_display()} account “{connection.account_name}” in the "
        f"next {QUEUE_HORIZON_DAYS // 7} weeks is taken; add more posting times or choose a time.")})


# ----------------------------------------------------------------------------- best times

# A hint needs this many published posts with read metrics in the window, and an hour of the week
# needs this many of them before it can be called a good one.
BEST_TIME_MIN_POSTS = 20
BEST_TIME_MIN_PER_HOUR = 3
BEST_TIME_WINDOW_DAYS = 180
BEST_TIME_SAMPLE_CAP = 5000
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass
class HourHint:
    weekday: int
    hour: int
    average: float
    posts: int
    club: object = None  # whose clock style writes the hours

    @property
    def label(self):
        start, end = time(self.hour), time((self.hour + 1) % 24)
        return f"{WEEKDAYS[self.weekday]} {dates.format_clock(start, self.club)}–{dates.format_clock(end, self.club)}"


@dataclass
class BestTimes:
    sample: int
    hours: list


def best_posting_times(*, user, club=None, now=None, limit=3):
    """The hours of the week (club clock) when the tenant's published posts drew the most engagement.

    Engagement is likes + comments + shares per post. None until there are ``BEST_TIME_MIN_POSTS``
    published posts with metrics in the last ``BEST_TIME_WINDOW_DAYS`` days, and only hours with at
    least ``BEST_TIME_MIN_PER_HOUR`` posts are ranked.
    """
    now = now or timezone.now()
    rows = (scope_queryset(SocialPost.objects.all(), user)
            .filter(status=SocialPostStatus.PUBLISHED, published_at__gte=now - timedelta(days=BEST_TIME_WINDOW_DAYS),
                    published_at__lte=now, engagement_synced_at__isnull=False)
            .order_by("-published_at")
            .values_list("published_at", "likes", "comments", "shares", "connection__club__timezone")
            [:BEST_TIME_SAMPLE_CAP])
    rows = list(rows)
    if len(rows) < BEST_TIME_MIN_POSTS:
        return None
    fallback = club_zone(club)
    totals = defaultdict(lambda: [0, 0])
    for published_at, likes, comments, shares, zone in rows:
        local = published_at.astimezone(zone or fallback)
        bucket = totals[(local.weekday(), local.hour)]
        bucket[0] += (likes or 0) + (comments or 0) + (shares or 0)
        bucket[1] += 1
    ranked = sorted(
        (HourHint(weekday=w, hour=h, average=total / count, posts=count, club=club)
         for (w, h), (total, count) in totals.items() if count >= BEST_TIME_MIN_PER_HOUR),
        key=lambda hint: (-hint.average, hint.weekday, hint.hour))
    if not ranked:
        return None
    return BestTimes(sample=len(rows), hours=ranked[:limit])
