"""Promotion sending as Celery tasks: thin callers of promotions.dispatching.

`promotions.send_dispatch` plans one dispatch and hands each chunk to `promotions.send_dispatch_chunk`
(both belong on a "sending" queue); `promotions.reap_send_chunks` hands on the chunks of dead workers.
"""

from celery import shared_task

from promotions.dispatching import chunk_send, dispatch_run, due_dispatch_ids, send_chunks_reap


@shared_task(name="promotions.dispatch_due")
def dispatch_due():
    """Fan out: one task per dispatch whose moment has come; each claims its dispatch itself."""
    ids = due_dispatch_ids()
    for dispatch_id in ids:
        send_dispatch.delay(dispatch_id=str(dispatch_id))
    return len(ids)


def _enqueue_chunk(chunk_id):
    send_dispatch_chunk.delay(chunk_id=chunk_id)


@shared_task(name="promotions.send_dispatch")
def send_dispatch(*, dispatch_id):
    # The conditional claim makes a duplicate task (or a second worker) a harmless no-op.
    dispatch = dispatch_run(dispatch_id=dispatch_id, enqueue=_enqueue_chunk)
    return dispatch.status if dispatch else "not-claimed"


@shared_task(name="promotions.send_dispatch_chunk")
def send_dispatch_chunk(*, chunk_id):
    # The chunk's lease makes a duplicate task a no-op ("busy"); a retry's wait comes back as a delayed task.
    outcome = chunk_send(chunk_id=chunk_id)
    if outcome.retry_at is not None:
        send_dispatch_chunk.apply_async(kwargs={"chunk_id": chunk_id}, eta=outcome.retry_at)
    return outcome.state


@shared_task(name="promotions.reap_send_chunks")
def reap_send_chunks():
    """Chunks whose worker died, whose task was lost, or whose retry is due go to a task again."""
    ids = send_chunks_reap()
    for chunk_id in ids:
        _enqueue_chunk(chunk_id)
    return len(ids)
