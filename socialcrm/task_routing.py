"""Which queue each Celery task goes to, and how long each kind may run.

Tasks are routed by name pattern, first match wins, so a task added later under a known prefix
(``promotions.send_dispatch_chunk``) lands on the right queue without touching this table. Anything
that matches nothing goes to the default queue, ``housekeeping``.

Queues (the Procfile runs one worker per group; see README "Workers and queues"):

- ``scheduler``: the periodic scans beat sends (claim due posts, reconcile stuck ones). Short, and
  never behind anything else, so a backlog elsewhere cannot stop posts being claimed.
- ``publishing``: one task per claimed post. Its own workers: a promotion dispatch or a metric sync
  never sits in front of a post.
- ``sending``: promotion dispatches and their chunks (email and SMS to members).
- ``metrics``: engagement sync.
- ``housekeeping``: token refresh, purges, staff notifications (their emails and daily summaries), and
  anything unrouted.

Time limits (soft, hard) in seconds, per queue, are enforced by the prefork pool the Procfile uses
(Celery's threads pool does not enforce them). The soft limit raises inside the task; the hard
limit kills the child. A publish task stopped either way leaves its post PUBLISHING with a start
time, which the reconciler settles after PUBLISH_STUCK_AFTER_SECONDS — so that must exceed the
publishing hard limit (checked at start-up by ``check_time_limits``).
"""

import fnmatch

from django.core.exceptions import ImproperlyConfigured

QUEUES = ("scheduler", "publishing", "sending", "metrics", "housekeeping")
DEFAULT_QUEUE = "housekeeping"

ROUTES = [
    ("posts.publish_due_posts", "scheduler"),
    ("posts.reconcile_stuck_posts", "scheduler"),
    ("posts.publish_post", "publishing"),
    ("posts.*publish*", "publishing"),
    ("promotions.*", "sending"),
    ("posts.*metric*", "metrics"),
    ("connections.*", "housekeeping"),
    ("notifications.*", "housekeeping"),
]


def task_routes():
    """The ``task_routes`` setting: an ordered list of (glob, options) pairs (first match wins)."""
    return ([(pattern, {"queue": queue}) for pattern, queue in ROUTES],)


def queue_for(task_name):
    for pattern, queue in ROUTES:
        if fnmatch.fnmatchcase(task_name, pattern):
            return queue
    return DEFAULT_QUEUE


class TimeLimits:
    """A ``task_annotations`` entry: every task gets its queue's (soft, hard) limits, unless the task
    declares its own."""

    def __init__(self, limits):
        self.limits = limits

    def annotate(self, task):
        soft, hard = self.limits.get(queue_for(task.name), self.limits[DEFAULT_QUEUE])
        options = {}
        if getattr(task, "soft_time_limit", None) is None:
            options["soft_time_limit"] = soft
        if getattr(task, "time_limit", None) is None:
            options["time_limit"] = hard
        return options


def check_time_limits(*, limits, stuck_after):
    soft, hard = limits["publishing"]
    if not soft < hard:
        raise ImproperlyConfigured(f"The publishing soft time limit ({soft} s) must be below its hard limit ({hard} s).")
    if not hard < stuck_after:
        raise ImproperlyConfigured(f"PUBLISH_STUCK_AFTER_SECONDS ({stuck_after}) must exceed the publishing hard time limit "
                         f"({hard} s), or the reconciler would look at posts whose task is still running.")
