"""Hooks into the events other apps announce. Each receiver only enqueues a task after commit: the
publisher and the token refresher never wait for (or fail because of) a notification."""

import importlib
import logging

from celery import current_app
from django.db import transaction

from connections.services import connection_needs_reconnect
from notifications import services
from posts.publishing import post_failed

logger = logging.getLogger("notifications")


def _enqueue(task, **kwargs):
    transaction.on_commit(lambda: current_app.signature(task, kwargs=kwargs).apply_async())


def on_post_failed(sender, post, **kwargs):
    _enqueue("notifications.post_failed", post_id=str(post.pk))


def on_connection_needs_reconnect(sender, connection, **kwargs):
    _enqueue("notifications.connection_needs_reconnect", connection_id=str(connection.pk))


# Approval signals are sent after the change commits: raised at once, while the post is as the approver left
# it. A notification problem is logged and never undoes or blocks the approval.
def on_approval_requested(sender, post, by=None, **kwargs):
    try:
        services.notify_approval_requested(post=post, by=by)
    except Exception:
        logger.exception("could not raise the approval request notification", extra={"post_id": str(post.pk)})


def on_approval_decided(sender, post, by=None, approved=True, comment="", **kwargs):
    try:
        services.notify_approval_decided(post=post, by=by, approved=approved, comment=comment or "")
    except Exception:
        logger.exception("could not raise the approval decision notification", extra={"post_id": str(post.pk)})


post_failed.connect(on_post_failed, dispatch_uid="notifications.post_failed")
connection_needs_reconnect.connect(on_connection_needs_reconnect, dispatch_uid="notifications.connection_needs_reconnect")

def connect_approval_signals():
    """Approvals announce themselves through ``posts.signals`` where that module exists; returns the names hooked."""
    try:
        approval_signals = importlib.import_module("posts.signals")
    except ImportError:
        return []
    hooked = []
    for name, receiver in (("approval_requested", on_approval_requested), ("approval_decided", on_approval_decided)):
        signal = getattr(approval_signals, name, None)
        if signal is not None:
            signal.connect(receiver, dispatch_uid=f"notifications.{name}")
            hooked.append(name)
    return hooked


connect_approval_signals()
