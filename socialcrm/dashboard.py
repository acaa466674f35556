"""What the dashboard shows: connection health, upcoming and failed posts, scheduler activity."""

from datetime import timedelta

from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from connections.selectors import connection_list, connection_rows, posts_with_connection_warnings
from crm.clock import club_zone
from crm.dates import format_day
from crm.tenancy import membership_of
from posts.metrics import metric_reads_overview
from posts.models import PostMetricSnapshot, SchedulerHeartbeat, SocialPostStatus
from posts.selectors import post_list
from socialcrm.schedules import periodic_schedules


def dashboard_overview(*, user, club):
    connections = connection_list(user=user, club=club)
    posts = post_list(user=user, club=club)
    now = timezone.now()
    return {
        "connection_rows": connection_rows(connections=connections),
        "upcoming_posts": posts_with_connection_warnings(list(
            posts.filter(status=SocialPostStatus.SCHEDULED, scheduled_at__gte=now).order_by("scheduled_at")[:10]
        ), now=now),
        "failed_posts": list(posts.filter(status=SocialPostStatus.FAILED).order_by("-updated_at")[:10]),
        "heartbeats": heartbeats_labelled(),
        "publisher_last_run": SchedulerHeartbeat.objects.filter(name="publish_due_posts").first(),
        "engagement_chart": engagement_by_day(posts=posts, days=14, now=now, club=club),
        "engagement_zone": str(club_zone(club)),
        "publish_lag": publish_lag(posts=posts, now=now),
        "metric_reads": _metric_reads_for_admins(user=user, now=now),
    }


def heartbeats_labelled():
    """The periodic jobs' proofs of life, each named as staff know the job (never by its task name)."""
    labels = {schedule.task.rsplit(".", 1)[-1]: schedule.name for schedule in periodic_schedules()}
    beats = list(SchedulerHeartbeat.objects.order_by("name"))
    for beat in beats:
        beat.label = labels.get(beat.name, beat.name.replace("_", " "))
    return beats


def publish_lag(*, posts, now, hours=24):
    """Due → live for the visible posts published in the last ``hours``: count, median and p95 seconds."""
    lags = sorted(posts.filter(status=SocialPostStatus.PUBLISHED, published_at__gte=now - timedelta(hours=hours),
                               publish_lag_seconds__isnull=False).values_list("publish_lag_seconds", flat=True))
    if not lags:
        return {"count": 0, "hours": hours}
    return {"count": len(lags), "hours": hours, "median": _percentile(lags, 50), "p95": _percentile(lags, 95),
            "max": lags[-1]}


def _percentile(ordered, p):
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (k - low), 1)


def _metric_reads_for_admins(*, user, now):
    """The month's metric read spend, shown to the tenant's admins (who set the budget), not to all staff."""
    membership = membership_of(user)
    if membership is None or not membership.is_admin:
        return None
    return metric_reads_overview(tenant_id=membership.tenant_id, now=now)


def engagement_by_day(*, posts, days, now, club=None):
    """Engagement of the visible posts, per day on the club's clock, from the latest sync each day (the dashboard
    chart). Each day carries its label as staff pages write days (crm/dates.py)."""
    since = now - timedelta(days=days)
    rows = (
        PostMetricSnapshot.objects.filter(post__in=posts.filter(status=SocialPostStatus.PUBLISHED), taken_at__gte=since)
        .annotate(day=TruncDate("taken_at", tzinfo=club_zone(club))).values("day", "post_id")
        .annotate(likes=Sum("likes"), impressions=Sum("impressions"))
    )
    # Several syncs a day: keep each post's largest (latest) numbers for that day.
    per_day = {}
    for row in rows:
        day = per_day.setdefault(row["day"], {})
        best = day.get(row["post_id"], (0, 0))
        day[row["post_id"]] = (max(best[0], row["likes"] or 0), max(best[1], row["impressions"] or 0))
    return [{"t": day.isoformat(), "label": format_day(day, club, now=now),
             "likes": sum(v[0] for v in values.values()),
             "impressions": sum(v[1] for v in values.values()), "reach": 0, "comments": 0, "shares": 0}
            for day, values in sorted(per_day.items())]
