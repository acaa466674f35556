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


def on_approval_requested(sender, post, by=None, **kwargs):
    services.notify_approval_requested(post=post, by=by)


def on_approval_decided(sender, post, by=None, approved=True, comment="", **kwargs):
    services.notify_approval_decided(post=post, by=by, approved=approved, comment=comment or "")


post_failed.connect(on_post_failed, dispatch_uid="notifications.post_failed")
connection_needs_reconnect.connect(on_connection_needs_reconnect, dispatch_uid="notifications.connection_needs_reconnect")

# Approvals announce themselves through posts.signals where that module exists.
try:
    _approval_signals = importlib.import_module("posts.signals")
except ImportError:
    _approval_signals = None
for _name, _receiver in (("approval_requested", on_approval_requested), ("approval_decided", on_approval_decided)):
    _signal = getattr(_approval_signals, _name, None)
    if _signal is not None:
        _signal.connect(_receiver, dispatch_uid=f"notifications.{_name}")
