"""Celery tasks: thin callers of the publisher and metrics services."""

from celery import shared_task
from django.utils.dateparse import parse_datetime


@shared_task(name="posts.publish_due_posts", ignore_result=True)
def publish_due_posts():
    from posts.publishing import posts_publish_due

    return len(posts_publish_due())


@shared_task(name="posts.publish_post", ignore_result=True)
def publish_post(post_id, claimed_at=None):
    from posts.publishing import post_publish

    post_publish(post_id=post_id, claimed_at=parse_datetime(claimed_at) if claimed_at else None)


@shared_task(name="posts.reconcile_stuck_posts", ignore_result=True)
def reconcile_stuck_posts():
    from posts.publishing import posts_reconcile_stuck

    posts_reconcile_stuck()


@shared_task(name="posts.sync_metrics", ignore_result=True)
def sync_metrics():
    from posts.metrics import posts_sync_metrics

    posts_sync_metrics()


@shared_task(name="posts.prune_metric_snapshots", ignore_result=True)
def prune_metric_snapshots():
    from posts.metrics import metric_snapshots_prune

    metric_snapshots_prune()
