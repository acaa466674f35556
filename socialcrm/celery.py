import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialcrm.settings")

app = Celery("socialcrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _bind_task_id(task_id=None, task=None, kwargs=None, **_):
    from socialcrm.observability import task_id_var, tenant_id_var

    task_id_var.set(task_id or "")
    tenant_id_var.set((kwargs or {}).get("tenant_id", "") or "")


@task_postrun.connect
def _unbind_task_id(**_):
    from socialcrm.observability import task_id_var, tenant_id_var

    task_id_var.set("")
    tenant_id_var.set("")


def _recycle_database_connections(task=None, **_):
    """Around every task, what Django does around every request: a connection younger than CONN_MAX_AGE is
    kept for the next task (checked before reuse, CONN_HEALTH_CHECKS), one that failed or aged out is closed.

    Celery's Django fixup would close it after every task instead (unless CELERY_DB_REUSE_MAX is set, which
    settings do): a fresh PostgreSQL connection per task costs more CPU, on both sides, than a publish's own
    queries. Eager tasks (tests, previews) run inside the caller's transaction and are left alone."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


task_prerun.connect(_recycle_database_connections, weak=False)
task_postrun.connect(_recycle_database_connections, weak=False)
