"""Engagement sync: only the posts whose next sync time has come, one run at a time, within each
tenant's monthly read budget; old snapshots thinned by a housekeeping task.

A published post carries ``metrics_next_sync_at``: set when it is published (due at the next run),
moved on by the aging cadence (``METRICS_CADENCE_HOURS``) after each sync, and cleared when the
post leaves the 30-day window or its counts stop changing. A run reads due posts connection by
connection in the adapter's batch size (X 100 ids per call, Graph 50), never the whole window.
"""

import logging
import uuid
import zlib
from collections import Counter
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum, Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from connections.models import SocialConnection
from connections.services import ConnectionUnusable, connection_call
from crm.models import Tenant
from platforms import PlatformError, get_adapter
from platforms.base import counting_calls
from platforms.usage import should_slow_down
from posts.models import MetricReadUsage, PostMetricSnapshot, SocialPost
from posts.models import SocialPostStatus as S
from socialcrm.schedules import heartbeat_record

logger = logging.getLogger("posts")

METRIC_FIELDS = ("likes", "comments", "shares", "reach", "impressions")
# What a run loads of each due post: enough to compare counts and plan the next sync, nothing more.
_LOADED = ("pk", "tenant_id", "connection_id", "platform_post_id", "published_at", "engagement_synced_at",
           "metrics_unknown", "metrics_next_sync_at", "metrics_unchanged_syncs", *METRIC_FIELDS)
# read: due posts loaded; calls: platform calls made; synced: posts the platform returned; stopped: posts
# no longer followed (counts unchanged); over_budget / slowed / failed: posts left due for a later run.
SUMMARY_KEYS = ("read", "calls", "synced", "not_returned", "stopped", "over_budget", "slowed", "failed")
_LOCK_KEY = 0x5C4D_6D65  # pg advisory lock id of the metric sync ("SCMme"); advisory locks are per database
_CACHE_LOCK = "posts:metrics-sync:lock"
_DAY = 86400


# ----------------------------------------------------------------------------- cadence


def sync_interval(age):
    """How often a post of this age is synced; None once it is too old to follow."""
    hours = age.total_seconds() / 3600
    for up_to_hours, every_hours in settings.METRICS_CADENCE_HOURS:
        if hours < up_to_hours:
            return timedelta(hours=every_hours)
    return None


def metrics_window():
    return timedelta(hours=max(up_to for up_to, _ in settings.METRICS_CADENCE_HOURS))


def metrics_next_sync(*, published_at, now, connection_id):
    """When to read a post next: about one cadence interval from now, or None once past the window.

    The time is put on a grid of that interval whose phase belongs to the connection, so posts of
    one account come due at the same moments and share a call (X reads 100 ids per call, Graph 50),
    while different accounts are spread over the day. Daily points are also 12-, 3- and 1-hourly
    points, so posts at different ages of one account meet too. The gap is 0.5 to 1.5 intervals.
    """
    interval = sync_interval(now - published_at)
    if interval is None:
        return None
    step = int(interval.total_seconds())
    phase = zlib.crc32(str(connection_id).encode()) % _DAY % step
    target = (now + interval).timestamp()
    slot = round((target - phase) / step) * step + phase
    at = datetime.fromtimestamp(slot, tz=dt_timezone.utc)
    return at if at < published_at + metrics_window() else None


def metrics_due(*, now):
    """PUBLISHED posts whose next sync has come (served by post_metrics_due_idx), oldest due first."""
    return (SocialPost.objects.filter(status=S.PUBLISHED, metrics_next_sync_at__isnull=False,
                                      metrics_next_sync_at__lte=now)
            .order_by("metrics_next_sync_at", "pk"))


# ----------------------------------------------------------------------------- read budget


def month_of(now):
    return now.astimezone(dt_timezone.utc).date().replace(day=1)


def next_month(month):
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def tenant_read_budget(*, tenant_id):
    """Platform calls the sync may make per month for this tenant (0: unlimited)."""
    own = Tenant.objects.filter(pk=tenant_id).values_list("metrics_monthly_read_budget", flat=True).first()
    return settings.METRICS_MONTHLY_READ_BUDGET if own is None else own


def metric_reads_spent(*, tenant_id, month):
    return MetricReadUsage.objects.filter(tenant_id=tenant_id, month=month).aggregate(n=Sum("calls"))["n"] or 0


def metric_reads_record(*, tenant_id, month, platform, calls):
    """Add ``calls`` to the tenant's count for the month (an atomic increment, also across workers)."""
    if calls <= 0:
        return
    row = MetricReadUsage.objects.filter(tenant_id=tenant_id, month=month, platform=platform)
    if row.update(calls=F("calls") + calls):
        return
    try:
        with transaction.atomic():
            MetricReadUsage.objects.create(tenant_id=tenant_id, month=month, platform=platform, calls=calls)
    except IntegrityError:  # another worker created it first
        row.update(calls=F("calls") + calls)


def metric_reads_overview(*, tenant_id, now=None):
    """The month's spend for the dashboard: {"spent", "budget", "spent_out", "text"}."""
    month = month_of(now or timezone.now())
    spent, budget = metric_reads_spent(tenant_id=tenant_id, month=month), tenant_read_budget(tenant_id=tenant_id)
    if budget:
        text = f"Metric reads this month: {spent:,} of {budget:,}"
    else:
        text = f"Metric reads this month: {spent:,} (no monthly limit)"
    spent_out = bool(budget) and spent >= budget
    note = (f"The monthly read budget is spent: engagement numbers are not updated until "
            f"{next_month(month):%-d %B}." if spent_out else "")
    return {"spent": spent, "budget": budget, "spent_out": spent_out, "text": text, "note": note}


class _Budgets:
    """Each tenant's budget and spend, read once per run and kept current as calls are made."""

    def __init__(self, now):
        self.month = month_of(now)
        self.known = {}
        self.told = set()

    def _get(self, tenant_id):
        if tenant_id not in self.known:
            self.known[tenant_id] = [tenant_read_budget(tenant_id=tenant_id),
                                     metric_reads_spent(tenant_id=tenant_id, month=self.month)]
        return self.known[tenant_id]

    def spent_out(self, tenant_id):
        budget, spent = self._get(tenant_id)
        if budget and spent >= budget:
            if tenant_id not in self.told:
                self.told.add(tenant_id)
                logger.warning("metrics for tenant %s paused until %s: monthly read budget of %s calls spent (%s)",
                               tenant_id, next_month(self.month), budget, spent)
            return True
        return False

    def spend(self, tenant_id, platform, calls):
        self._get(tenant_id)[1] += calls
        metric_reads_record(tenant_id=tenant_id, month=self.month, platform=platform, calls=calls)


# ----------------------------------------------------------------------------- one run at a time


@contextmanager
def metrics_run_lock():
    """Yield True to the one run that may go on. PostgreSQL: a session advisory lock (released
    with the connection if the worker dies); elsewhere: a cache lock that expires."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY])
            acquired = cursor.fetchone()[0]
        try:
            yield acquired
        finally:
            if acquired:
                try:
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
                except Exception:  # a broken connection: closing it releases the lock
                    logger.exception("metric sync: could not release its lock; closing the connection")
                    connection.close()
        return
    token = uuid.uuid4().hex
    acquired = cache.add(_CACHE_LOCK, token, timeout=settings.METRICS_SYNC_LOCK_SECONDS)
    try:
        yield acquired
    finally:
        if acquired and cache.get(_CACHE_LOCK) == token:
            cache.delete(_CACHE_LOCK)


# ----------------------------------------------------------------------------- the run


def _record(batch, found, now, summary):
    """Store what was read and plan each post's next sync.

    A metric the platform did not give (None: insights refused, too few viewers) never overwrites a
    known value: the post keeps its last known one, and a metric never known is listed in
    ``metrics_unknown`` (shown as "not available", not as 0). A post the platform did not return
    (deleted, hidden) counts as unchanged, so it stops being asked for like a post gone quiet.
    """
    snapshots = []
    for post in batch:
        metrics = found.get(str(post.platform_post_id))
        changed = False
        if metrics is not None:
            read = {name: getattr(metrics, name, None) for name in METRIC_FIELDS}
            known = {name: int(value) for name, value in read.items() if value is not None}
            missing = [name for name in METRIC_FIELDS if read[name] is None]
            previously_unknown = set(post.metrics_unknown or [])
            first = post.engagement_synced_at is None
            never_known = [name for name in missing if name in previously_unknown or first]
            changed = first or any(getattr(post, name) != value for name, value in known.items()) or (
                set(never_known) != previously_unknown)
            for name, value in known.items():
                setattr(post, name, value)
            post.metrics_unknown, post.engagement_synced_at = never_known, now
            snapshots.append(PostMetricSnapshot(post_id=post.pk, taken_at=now, unknown=missing,
                                                **{name: known.get(name, 0) for name in METRIC_FIELDS}))
            summary["synced"] += 1
        else:
            summary["not_returned"] += 1
        post.metrics_unchanged_syncs = 0 if changed else min(post.metrics_unchanged_syncs + 1, 32767)
        old_enough = now - post.published_at >= timedelta(hours=settings.METRICS_STABLE_MIN_AGE_HOURS)
        if post.metrics_unchanged_syncs >= settings.METRICS_STABLE_SYNCS_TO_STOP and old_enough:
            post.metrics_next_sync_at = None  # stopped changing: no more calls for it
            summary["stopped"] += 1
        else:
            post.metrics_next_sync_at = metrics_next_sync(published_at=post.published_at, now=now,
                                                          connection_id=post.connection_id)
    with transaction.atomic():
        SocialPost.objects.bulk_update(batch, ["engagement_synced_at", "metrics_unknown", "metrics_next_sync_at",
                                               "metrics_unchanged_syncs", *METRIC_FIELDS])
        PostMetricSnapshot.objects.bulk_create(snapshots)


def _sync_connection(connection_id, now, budgets, summary):
    social = SocialConnection.objects.filter(pk=connection_id).first()
    if social is None:
        return
    adapter = get_adapter(social.platform)
    due = metrics_due(now=now).filter(connection_id=connection_id).only(*_LOADED)
    previous = set()
    while True:
        # Every batch read leaves the due set (its next sync is set later, or cleared) unless the
        # connection stops for this run; so the next batch is again the head of the index
        # post_metrics_conn_due_idx (connection, next sync, id): no offset, no keyset.
        batch = list(due[:adapter.max_batch])
        if not batch or previous.intersection(post.pk for post in batch):
            return
        previous = {post.pk for post in batch}
        summary["read"] += len(batch)
        unreadable = [post for post in batch if not post.platform_post_id]
        if unreadable:  # nothing to ask the platform about
            SocialPost.objects.filter(pk__in=[p.pk for p in unreadable]).update(metrics_next_sync_at=None)
            batch = [post for post in batch if post.platform_post_id]
            if not batch:
                continue
        # Spent: these and the rest stay due and are read next month (or when the budget is raised).
        if budgets.spent_out(social.tenant_id):
            summary["over_budget"] += len(batch)
            return
        # Near a usage limit: leave the rest for a later run instead of spending the account's quota.
        if should_slow_down(social.platform, social.account_id, operation=adapter.metrics_operation):
            summary["slowed"] += len(batch)
            logger.info("metrics for %s account %s postponed: close to its usage limit",
                        social.platform, social.account_id)
            return
        ids = [post.platform_post_id for post in batch]
        with counting_calls() as calls:
            try:
                found = connection_call(
                    connection=social,
                    operation=lambda adapter, credentials, ids=ids: adapter.fetch_metrics(
                        credentials=credentials, post_ids=ids))
            except (ConnectionUnusable, PlatformError) as exc:
                found = None
                summary["failed"] += len(batch)
                logger.warning("metrics for connection %s failed: %s", social.pk, exc)
        made = sum(calls.values())
        summary["calls"] += made
        budgets.spend(social.tenant_id, social.platform, made)
        if found is None:
            return
        _record(batch, {str(key): value for key, value in found.items()}, now, summary)


def posts_sync_metrics(*, now=None):
    """One metric sync run over the due posts; a second run while one is going does nothing."""
    now = now or timezone.now()
    summary = Counter(dict.fromkeys(SUMMARY_KEYS, 0))
    with metrics_run_lock() as acquired:
        if not acquired:
            logger.info("metric sync skipped: another run is in progress")
            return {**summary, "skipped": 1}
        budgets = _Budgets(now)
        connection_ids = list(metrics_due(now=now).order_by().values_list("connection_id", flat=True).distinct())
        for connection_id in connection_ids:
            _sync_connection(connection_id, now, budgets, summary)
        result = dict(summary)
        heartbeat_record(name="sync_metrics", summary=result, now=now)
    return result


# ----------------------------------------------------------------------------- retention


def metric_snapshots_prune(*, now=None, lookback_days=3, batch_size=5000):
    """Keep snapshots as taken for METRICS_SNAPSHOT_HOURLY_DAYS, then the last one of each post's day.

    Looks at the ``lookback_days`` of days that just turned old (the hourly run sees each day
    several times); ``lookback_days=None`` goes through everything, for a first clean-up. Deletes
    in batches of ``batch_size``; returns how many snapshots were deleted.
    """
    now = now or timezone.now()
    cutoff = (now - timedelta(days=settings.METRICS_SNAPSHOT_HOURLY_DAYS)).astimezone(dt_timezone.utc)
    cutoff = cutoff.replace(hour=0, minute=0, second=0, microsecond=0)  # whole days only
    old = PostMetricSnapshot.objects.filter(taken_at__lt=cutoff)
    if lookback_days is not None:
        old = old.filter(taken_at__gte=cutoff - timedelta(days=lookback_days))
    # The last snapshot of each post and (UTC) day is kept; the others of that day go.
    ranked = old.annotate(rank=Window(
        RowNumber(), partition_by=[F("post_id"), TruncDate("taken_at", tzinfo=dt_timezone.utc)],
        order_by=[F("taken_at").desc(), F("pk").desc()]))
    deleted = 0
    while True:
        doomed = list(ranked.filter(rank__gt=1).values_list("pk", flat=True)[:batch_size])
        if not doomed:
            return deleted
        deleted += PostMetricSnapshot.objects.filter(pk__in=doomed).delete()[0]
