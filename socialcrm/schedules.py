"""Every periodic job, declared once. `python manage.py setup_periodic_tasks` installs them."""

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from posts.models import SchedulerHeartbeat


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    every_seconds: float
    description: str


def periodic_schedules():
    return [
        Schedule("publish due posts", "posts.publish_due_posts", settings.PUBLISH_SCAN_INTERVAL_SECONDS,
                 "Claim posts whose time has come and hand each to a publish task."),
        Schedule("reconcile stuck posts", "posts.reconcile_stuck_posts", 60,
                 "Ask the platform about posts left publishing by a worker that died."),
        Schedule("sync post metrics", "posts.sync_metrics", settings.METRICS_SYNC_INTERVAL_SECONDS,
                 "Pull engagement for published posts on the aging cadence."),
        Schedule("prune metric snapshots", "posts.prune_metric_snapshots",
                 settings.METRICS_SNAPSHOT_PRUNE_INTERVAL_SECONDS,
                 "Housekeeping: keep a week of metric snapshots as taken, then one per post per day."),
        Schedule("refresh expiring tokens", "connections.refresh_expiring_tokens", settings.TOKEN_REFRESH_INTERVAL_SECONDS,
                 "Refresh tokens before they expire and check that long-lived ones still work."),
        Schedule("purge expired OAuth attempts", "connections.purge_oauth_attempts",
                 max(60, settings.OAUTH_STATE_TTL_SECONDS),
                 "Delete abandoned platform sign-ins, and the sealed tokens they hold, once they expire."),
        Schedule("dispatch promotions", "promotions.dispatch_due", settings.PROMOTION_DISPATCH_INTERVAL_SECONDS,
                 "Send announcements and reminders whose moment has come."),
        Schedule("hand on promotion chunks", "promotions.reap_send_chunks", settings.PROMOTION_CHUNK_REAP_INTERVAL_SECONDS,
                 "Give the recipients of a worker that died while sending (its lease ran out) to another worker."),
        Schedule("scan for notifications", "notifications.scan_notifications", settings.NOTIFICATION_SCAN_INTERVAL_SECONDS,
                 "Tell staff about failed posts and connections whose sign-in ran out or soon will; clear the "
                 "banners of problems that were fixed."),
        Schedule("send daily notification summaries", "notifications.send_digests",
                 settings.NOTIFICATION_DIGEST_INTERVAL_SECONDS,
                 "One summary email per person who chose it, of the last day's notifications."),
    ]


def heartbeat_record(*, name, summary, now=None):
    """A periodic job's proof of life, shown on the dashboard."""
    SchedulerHeartbeat.objects.update_or_create(name=name, defaults={"last_run_at": now or timezone.now(),
                                                                     "last_summary": summary})
