"""Exactly once under concurrency: several workers scan and claim the same 500 due posts at once."""

import threading
from collections import Counter

import pytest
from django.db import connection as db
from django.db import connections
from django.utils import timezone

from posts.models import SocialPost
from posts.models import SocialPostStatus as S
from posts.publishing import posts_publish_due

WORKERS = 8
POSTS = 500


@pytest.mark.skipif("sqlite" in db.vendor, reason="needs real row-level concurrency: run on PostgreSQL "
                    "(SQLite serialises every writer, so there is no race to prove anything about)")
def test_500_due_posts_claimed_by_8_workers_are_each_published_once(transactional_db, connect, simulator,
                                                                    eager_celery, settings):
    settings.PUBLISH_BATCH_SIZE = POSTS
    page = connect("facebook")
    now = timezone.now()
    SocialPost.objects.bulk_create([
        SocialPost(tenant=page.tenant, connection=page, content=f"Tee sheet update {n}", created_by="t",
                   status=S.SCHEDULED, scheduled_at=now) for n in range(POSTS)])
    start, claims, errors = threading.Barrier(WORKERS), Counter(), []

    def worker():
        try:
            start.wait()
            for post_id in posts_publish_due():
                claims[post_id] += 1
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(claims) == POSTS and set(claims.values()) == {1}
    assert SocialPost.objects.filter(status=S.PUBLISHED).count() == POSTS
    published = Counter(p["text"] for p in simulator.published(platform="facebook"))
    assert len(published) == POSTS and set(published.values()) == {1}
