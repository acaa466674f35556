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
