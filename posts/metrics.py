"""Engagement sync: PUBLISHED posts on the aging cadence, batched per connection, slowing on usage."""

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connections.services import ConnectionUnusable, connection_call
from platforms import PlatformError, get_adapter
from platforms.base import chunked
from platforms.usage import should_slow_down
from posts.models import PostMetricSnapshot, SocialPost
from posts.models import SocialPostStatus as S
from socialcrm.schedules import heartbeat_record

logger = logging.getLogger("posts")

METRIC_FIELDS = ("likes", "comments", "shares", "reach", "impressions")


def sync_interval(age):
    """How often a post of this age is synced; None once it is too old to follow."""
    hours = age.total_seconds() / 3600
    for up_to_hours, every_hours in settings.METRICS_CADENCE_HOURS:
        if hours < up_to_hours:
            return timedelta(hours=every_hours)
    return None


def metrics_due(*, now):
    """PUBLISHED posts whose next sync on the cadence has come (served by post_published_idx)."""
    horizon = max(up_to for up_to, _ in settings.METRICS_CADENCE_HOURS)
    shortest = min(every for _, every in settings.METRICS_CADENCE_HOURS)
    candidates = (
        SocialPost.objects.select_related("connection")
        .filter(status=S.PUBLISHED, published_at__gte=now - timedelta(hours=horizon), platform_post_id__isnull=False)
        .exclude(engagement_synced_at__gt=now - timedelta(hours=shortest))
        .order_by("published_at")
    )
    due = []
    for post in candidates:
        interval = sync_interval(now - post.published_at)
        if interval is not None and (post.engagement_synced_at is None or post.engagement_synced_at <= now - interval):
            due.append(post)
    return due


def _record(posts_by_id, found, now):
    """Store what was read. A metric the platform did not give (None: insights refused, too few
    viewers) never overwrites a known value: the post keeps its last known one, and a metric never
    known is listed in ``metrics_unknown`` (shown as "not available", not as 0)."""
    with transaction.atomic():
        for platform_id, metrics in found.items():
            post = posts_by_id.get(str(platform_id))
            if post is None:
                continue
            read = {name: getattr(metrics, name, None) for name in METRIC_FIELDS}
            known = {name: int(value) for name, value in read.items() if value is not None}
            missing = [name for name in METRIC_FIELDS if read[name] is None]
            previously_unknown = set(post.metrics_unknown or [])
            never_known = [name for name in missing if name in previously_unknown or post.engagement_synced_at is None]
            SocialPost.objects.filter(pk=post.pk).update(engagement_synced_at=now, metrics_unknown=never_known,
                                                         **known)
            PostMetricSnapshot.objects.create(post=post, taken_at=now, unknown=missing,
                                              **{name: known.get(name, 0) for name in METRIC_FIELDS})
            post.engagement_synced_at, post.metrics_unknown = now, never_known
            for name, value in known.items():
                setattr(post, name, value)


def posts_sync_metrics(*, now=None):
    now = now or timezone.now()
    by_connection = defaultdict(list)
    for post in metrics_due(now=now):
        by_connection[post.connection_id].append(post)
    summary = {"synced": 0, "slowed": 0, "failed": 0}
    for posts in by_connection.values():
        connection = posts[0].connection
        adapter = get_adapter(connection.platform)
        for batch in chunked(posts, adapter.max_batch):
            # Near a usage limit: leave the rest for a later run instead of spending the account's quota.
            if should_slow_down(connection.platform, connection.account_id, operation=adapter.metrics_operation):
                summary["slowed"] += len(batch)
                logger.info("metrics for %s account %s postponed: close to its usage limit",
                            connection.platform, connection.account_id)
                break
            ids = [p.platform_post_id for p in batch]
            try:
                found = connection_call(
                    connection=connection,
                    operation=lambda adapter, credentials, ids=ids: adapter.fetch_metrics(
                        credentials=credentials, post_ids=ids))
            except (ConnectionUnusable, PlatformError) as exc:
                summary["failed"] += len(batch)
                logger.warning("metrics for connection %s failed: %s", connection.pk, exc)
                break
            _record({p.platform_post_id: p for p in batch}, found, now)
            summary["synced"] += len(found)
    heartbeat_record(name="sync_metrics", summary=summary, now=now)
    return summary
