"""Celery tasks: thin callers of the publisher and metrics services."""

from celery import shared_task
from django.utils.dateparse import parse_datetime

from posts.metrics import posts_sync_metrics
from posts.publishing import PUBLISH_TASK, post_publish, posts_publish_due, posts_reconcile_stuck


@shared_task(name="posts.publish_due_posts", ignore_result=True)
def publish_due_posts():
    return len(posts_publish_due())


@shared_task(name=PUBLISH_TASK, ignore_result=True)
def publish_post(post_id, claimed_at=None):
    post_publish(post_id=post_id, claimed_at=parse_datetime(claimed_at) if claimed_at else None)


@shared_task(name="posts.reconcile_stuck_posts", ignore_result=True)
def reconcile_stuck_posts():
    posts_reconcile_stuck()


@shared_task(name="posts.sync_metrics", ignore_result=True)
def sync_metrics():
    posts_sync_metrics()


@shared_task(name="posts.prune_metric_snapshots", ignore_result=True)
def prune_metric_snapshots():
    from posts.metrics import metric_snapshots_prune

    metric_snapshots_prune()
