"""A worker process keeps its database connection between tasks, as Django keeps it between requests."""

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from posts.tasks import publish_due_posts
from socialcrm.celery import _recycle_database_connections, app

pytestmark = pytest.mark.django_db(transaction=True)


class _Request:
    is_eager = False


class _Task:
    request = _Request()


def _task_ends():
    """What a worker process runs after each task: Celery's Django fixup and the product's own hook."""
    DjangoWorkerFixup(app).on_task_postrun(sender=_Task())
    _recycle_database_connections(task=_Task())


def test_a_connection_is_kept_for_the_next_task(settings):
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
    connection.ensure_connection()
    before = connection.connection
    for _ in range(3):
        _task_ends()
    assert connection.connection is before and not before.closed


def test_one_that_outlived_conn_max_age_is_closed_after_the_task(settings):
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
    connection.ensure_connection()
    connection.close_at = 0  # as if opened more than CONN_MAX_AGE ago
    _task_ends()
    assert connection.connection is None


def test_a_dead_connection_is_replaced_before_the_next_task_uses_it(settings):
    """CONN_HEALTH_CHECKS: a connection the database dropped (a restart, a failover) costs a reconnect, not a
    failed task."""
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
    settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    connection.settings_dict["CONN_HEALTH_CHECKS"] = True
    connection.ensure_connection()
    old_pid = connection.connection.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    _task_ends()
    from django.db import connections

    with connections.create_connection("default").cursor() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [old_pid])
    _recycle_database_connections(task=_Task())  # the next task starts
    publish_due_posts.run()  # its first query reconnects
    assert connection.connection.info.backend_pid != old_pid


def test_the_product_settings_keep_connections_and_check_them():
    from socialcrm.tests.test_local_run import settings_in_subprocess

    values = settings_in_subprocess(["DATABASES", "CELERY_DB_REUSE_MAX"],
                                    DATABASE_URL="postgres://postgres@127.0.0.1:5432/any", CONN_MAX_AGE=None,
                                    CONN_HEALTH_CHECKS=None, CELERY_DB_REUSE_MAX=None)
    assert values["DATABASES"]["default"]["CONN_MAX_AGE"] > 0
    assert values["DATABASES"]["default"]["CONN_HEALTH_CHECKS"] is True
    assert values["CELERY_DB_REUSE_MAX"] >= 100
