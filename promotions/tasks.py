from celery import shared_task

from promotions.dispatching import dispatch_run, due_dispatch_ids


@shared_task(name="promotions.dispatch_due")
def dispatch_due():
    """Fan out: one task per dispatch whose moment has come; each claims its dispatch itself."""
    ids = due_dispatch_ids()
    for dispatch_id in ids:
        send_dispatch.delay(dispatch_id=str(dispatch_id))
    return len(ids)


@shared_task(name="promotions.send_dispatch")
def send_dispatch(*, dispatch_id):
    # The conditional claim makes a duplicate task (or a second worker) a harmless no-op.
    dispatch = dispatch_run(dispatch_id=dispatch_id)
    return dispatch.status if dispatch else "not-claimed"
