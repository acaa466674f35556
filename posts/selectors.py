"""Reads for the posts pages; every query goes through the user's tenancy scope."""

from datetime import datetime, time, timedelta
from itertools import groupby

from django.db.models import Prefetch, Q

from connections.models import SocialConnection
from crm.clock import club_local_to_utc, club_utc_to_local
from crm.models import Campaign
from crm.tenancy import scope_queryset, visible_row
from posts.approvals import WAITING
from posts.models import LIST_AT, NO_TIME, Composition, SocialPost, SocialPostStatus
from socialcrm.keyset import Key, Keyset

# The lists' order, newest first: publish time (undated drafts first), then created, then id (unique).
# Served by the indexes post_tenant_list_idx and post_tenant_status_list_idx.
POST_ORDER = Keyset(keys=(
    Key("list_at", "moment", expression=LIST_AT, read=lambda post: post.scheduled_at, null_as=NO_TIME),
    Key("created_at", "moment"),
    Key("id", "uuid"),
), tag="posts")
# Counts on the staff list stop here: "more than 1,000" needs no count over every post of the tenant.
COUNT_CAP = 1000


def post_list(*, user, club=None, filters=None):
    posts = scope_queryset(SocialPost.objects.select_related("connection", "connection__club", "campaign"), user)
    if club is not None:
        posts = posts.filter(Q(connection__club=club) | Q(connection__club__isnull=True))
    filters = filters or {}
    if filters.get("status"):
        posts = posts.filter(status=filters["status"])
    if filters.get("platform"):
        posts = posts.filter(connection__platform=filters["platform"])
    if filters.get("approval"):
        posts = posts.filter(approval_state=filters["approval"])
    # A filter id resolves within the user's scope; another tenant's, unknown or malformed ids match nothing.
    if filters.get("campaign"):
        campaign = visible_row(Campaign.objects.all(), user, filters["campaign"])
        posts = posts.filter(campaign=campaign) if campaign else posts.none()
    moment = Q(scheduled_at__isnull=False) | Q(published_at__isnull=False)
    if filters.get("date_from"):
        start = filters["date_from"]
        posts = posts.filter(moment).filter(Q(scheduled_at__gte=start) | Q(published_at__gte=start))
    if filters.get("date_to"):
        end = filters["date_to"]
        posts = posts.filter(moment).filter(Q(scheduled_at__lt=end) | Q(published_at__lt=end))
    return POST_ORDER.ordered(posts)


def posts_scheduled_between(posts, *, start=None, end=None):
    """Posts of a list whose publish time is in [start, end).

    Said on the list's own key (``list_at``: the publish time, "infinity" for none), so the page is a
    range seek on the list's index, estimated from that index's statistics, not a walk from the newest.
    """
    if start is not None:
        posts = posts.filter(list_at__gte=start, list_at__lt=NO_TIME)
    if end is not None:
        posts = posts.filter(list_at__lt=end)
    return posts


def post_page(*, posts, cursor=None, size):
    """One page of a post list after (or before) a cursor; ``socialcrm.keyset.InvalidCursor`` for junk."""
    return POST_ORDER.page(posts, cursor=cursor, size=size)


def post_counts_by_status(*, posts, statuses=None, cap=COUNT_CAP):
    """{status: count} for the posts of a list (of ``statuses``, default all), each stopping at ``cap + 1``.

    Each is ``COUNT(*)`` over a ``LIMIT cap + 1`` subquery: at most cap + 1 index entries per status, so a
    tenant with 200,000 posts costs the same as one with 2,000. Nothing counts the whole list.
    """
    return {status: posts.filter(status=status).order_by()[:cap + 1].count()
            for status in statuses or SocialPostStatus.values}


def post_get(*, user, post_id):
    return scope_queryset(SocialPost.objects.select_related("connection", "connection__club", "campaign", "tenant",
                                                            "approval_requested_by", "approval_decided_by"),
                          user).get(pk=post_id)


def post_metric_history(*, post):
    rows = list(post.metric_snapshots.order_by("taken_at").values("taken_at", "likes", "comments", "shares", "reach",
                                                                   "impressions", "unknown"))
    for row in rows:  # a metric the platform did not give at that sync is a gap, not 0
        for name in row.pop("unknown") or []:
            row[name] = None
    return rows


def composer_connections(*, user):
    """Active and inactive connections the user may post to, grouped by club (tenant-wide ones first)."""
    connections = scope_queryset(SocialConnection.objects.select_related("club"), user).order_by(
        "club__name", "platform", "account_name")
    grouped = []
    for club, items in groupby(connections, key=lambda c: c.club):
        grouped.append((club, list(items)))
    return grouped


def composer_campaigns(*, user):
    return scope_queryset(Campaign.objects.all(), user).order_by("name")


def calendar_range(*, view, day):
    """[start, end) dates shown: a Monday-to-Sunday week, or the whole weeks covering a month."""
    if view == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    first = day.replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    start = first - timedelta(days=first.weekday())
    end = next_month + timedelta(days=(7 - next_month.weekday()) % 7)
    return start, end


def calendar_posts(*, user, club, start, end):
    """Scheduled and published posts between two dates on the club's clock, keyed by the club's date."""
    start_at = club_local_to_utc(club, datetime.combine(start, time.min))
    end_at = club_local_to_utc(club, datetime.combine(end, time.min))
    posts = post_list(user=user, club=club).filter(
        Q(status=SocialPostStatus.PUBLISHED, published_at__gte=start_at, published_at__lt=end_at)
        | (~Q(status=SocialPostStatus.PUBLISHED) & Q(scheduled_at__gte=start_at, scheduled_at__lt=end_at))
    )
    by_day = {}
    for post in posts:
        moment = club_utc_to_local(club, post.published_at if post.status == SocialPostStatus.PUBLISHED else post.scheduled_at)
        by_day.setdefault(moment.date(), []).append((moment, post))
    for items in by_day.values():
        items.sort(key=lambda pair: pair[0])
    return by_day


def calendar_feed_of(*, user):
    """The user's calendar feed (when it was made, last read), or None."""
    from posts.models import CalendarFeed

    return CalendarFeed.objects.filter(user=user).first()


# ----------------------------------------------------------------------------- compositions

# Compositions newest first, by (created, id): unique, served by composition_tenant_idx.
COMPOSITION_ORDER = Keyset(keys=(Key("created_at", "moment"), Key("id", "uuid")), tag="compositions")


def _visible_versions(user):
    return scope_queryset(SocialPost.objects.select_related("connection"), user).order_by(
        "connection__platform", "connection__account_name", "pk")


def composition_list(*, user):
    """The compositions the user may see, each with the versions the user may see (``visible_versions``)."""
    compositions = scope_queryset(Composition.objects.all(), user).prefetch_related(
        Prefetch("versions", queryset=_visible_versions(user), to_attr="visible_versions"))
    return COMPOSITION_ORDER.ordered(compositions)


def composition_get(*, user, composition_id):
    return composition_list(user=user).get(pk=composition_id)


def composition_rows(*, user, posts):
    """A list page's posts as rows: a post alone, or one row per composition of several versions.

    Each row is ``{"post": first version on the page, "versions": [...]}``; a composition's versions are
    the ones the user may see, all of them (also those outside this page), so its badges tell every
    network's status. Posts keep the list's order; a composition sits where its first version is.
    """
    posts = list(posts)
    ids = {p.composition_id for p in posts if p.composition_id}
    by_composition = {}
    if ids:
        for version in _visible_versions(user).select_related("connection__club").filter(composition_id__in=ids):
            by_composition.setdefault(version.composition_id, []).append(version)
    rows, placed = [], set()
    for post in posts:
        versions = by_composition.get(post.composition_id, []) if post.composition_id else []
        if len(versions) < 2:
            rows.append({"post": post, "versions": [post]})
        elif post.composition_id not in placed:
            placed.add(post.composition_id)
            rows.append({"post": post, "versions": versions, "composition_id": post.composition_id})
    return rows


def posts_due(*, now):
    """The posts the publisher's scan claims at ``now``: scheduled and due, not waiting for a retry's moment,
    nor for an approval (those are failed with a reason instead)."""
    return (SocialPost.objects.filter(status=SocialPostStatus.SCHEDULED, scheduled_at__lte=now)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .exclude(approval_state__in=WAITING))


def publishing_backlog(*, now, at_most, recent=timedelta(minutes=2)):
    """Posts due now or claimed in the last ``recent`` and not yet settled, counted up to ``at_most``.

    Three small index reads, each stopping at ``at_most`` rows: cheap enough to ask every second. A claim
    older than ``recent`` is the stuck-post reconciler's business and does not count as work waiting."""
    since = now - recent
    queries = [
        posts_due(now=now).filter(scheduled_at__gte=since),
        SocialPost.objects.filter(status=SocialPostStatus.PUBLISHING, publishing_started_at__gte=since),
        SocialPost.objects.filter(status=SocialPostStatus.PUBLISHING, publishing_started_at__isnull=True,
                                  claimed_at__gte=since),
    ]
    total = 0
    for query in queries:
        total += len(query.values_list("pk", flat=True)[:at_most - total])
        if total >= at_most:
            break
    return total
