"""A real Celery worker and beat (subprocesses, the test database) publish a post 5 s ahead.

The broker is Redis when REDIS_URL is set (as in CI), else Kombu's filesystem transport in a folder of the
test's own: both work across processes, so the test runs on a fresh machine with nothing installed.
"""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection as db
from django.utils import timezone

from posts.models import SchedulerHeartbeat, SocialPost
from posts.models import SocialPostStatus as S
from posts.services import post_create
from socialcrm.task_routing import QUEUES

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "")

pytestmark = [
    pytest.mark.celery,
    pytest.mark.skipif(db.vendor != "postgresql", reason="the worker and beat are separate processes and must "
                       "share the test database: run on PostgreSQL (SQLite's test database is in memory)"),
]


def broker_environment(tmp_path):
    """CELERY_BROKER_URL (and its folder) for the worker and beat: Redis if REDIS_URL is set, else the filesystem."""
    if REDIS_URL:
        import redis
        redis.Redis.from_url(REDIS_URL).flushdb()
        return {"CELERY_BROKER_URL": REDIS_URL}
    return {"CELERY_BROKER_URL": "filesystem://", "CELERY_BROKER_FOLDER": str(tmp_path / "broker")}


@pytest.fixture
def celery_processes(transactional_db, simulator, simulator_settings, settings, tmp_path):
    settings.PUBLISH_SCAN_INTERVAL_SECONDS = 1
    call_command("setup_periodic_tasks", stdout=open(os.devnull, "w"))
    from django_celery_beat.models import PeriodicTask
    PeriodicTask.objects.exclude(task="posts.publish_due_posts").update(enabled=False)

    db_settings = db.settings_dict
    database_url = (f"postgres://{db_settings['USER']}:{db_settings.get('PASSWORD') or ''}@{db_settings['HOST']}:"
                    f"{db_settings['PORT'] or 5432}/{db_settings['NAME']}")
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="socialcrm.test_settings", DATABASE_URL=database_url,
               PUBLISH_SCAN_INTERVAL_SECONDS="1", PYTHONPATH=str(ROOT), **broker_environment(tmp_path),
               **{k: str(v) for k, v in simulator.settings().items()})
    celery = [sys.executable, "-m", "celery", "-A", "socialcrm"]
    logs = {name: open(tmp_path / f"{name}.log", "w+") for name in ("worker", "beat")}
    processes = [
        subprocess.Popen(celery + ["worker", "-Q", ",".join(QUEUES), "--pool", "solo", "--loglevel", "info",
                                   "--without-gossip",
                                   "--without-mingle", "--without-heartbeat"], cwd=ROOT, env=env,
                         stdout=logs["worker"], stderr=subprocess.STDOUT),
        subprocess.Popen(celery + ["beat", "--loglevel", "info", "--max-interval", "1"], cwd=ROOT, env=env,
                         stdout=logs["beat"], stderr=subprocess.STDOUT),
    ]
    yield logs
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for log in logs.values():
        log.close()


def test_worker_and_beat_publish_a_post_scheduled_five_seconds_ahead(celery_processes, connect, simulator):
    x = connect("twitter")
    at = timezone.now() + timedelta(seconds=5)
    post = post_create(tenant=x.tenant, connection=x, content="Greens are open", created_by="a", scheduled_at=at)
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        post.refresh_from_db()
        if post.status not in (S.SCHEDULED, S.PUBLISHING):
            break
        time.sleep(0.5)
    logs = {}
    for name, log in celery_processes.items():
        log.seek(0)
        logs[name] = log.read()[-3000:]
    assert post.status == S.PUBLISHED, (post.status, post.error, logs)
    assert post.published_at >= at
    assert [p["text"] for p in simulator.published(platform="twitter")] == ["Greens are open"]
    assert SchedulerHeartbeat.objects.filter(name="publish_due_posts").exists()
    assert SocialPost.objects.get(pk=post.pk).platform_post_id
