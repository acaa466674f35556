"""Who did what, and when, to posts, promotions and connections (django-simple-history).

Each tracked model declares ``history = tracked_history(...)``; every save and delete then
writes one row in its historical table, carrying the acting user (the signed-in user through
``HistoryRequestMiddleware``, or whoever a service names with ``acting``), a plain name for
them ("system" for the publisher and other periodic jobs) and what they did ("approved",
"scheduled", ...). Writes made with a conditional ``UPDATE`` (claims, cancels, the publisher's
outcomes) are recorded with ``history_record``. Secret columns are listed in
``excluded_fields`` and never copied.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import models
from django.dispatch import receiver
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

SYSTEM = "system"


@dataclass(frozen=True)
class _Acting:
    user: object  # a User, or None for the system
    label: str
    action: str | None


_acting = ContextVar("history_acting", default=None)
KEEP = object()  # acting(action=...) alone: the actor stays whoever the request or caller says


def actor_label(by):
    """A plain name for who acted: a login's name, a given name, or "system"."""
    if by is None:
        return SYSTEM
    if hasattr(by, "get_full_name"):
        return by.get_full_name().strip() or by.get_username()
    return str(by) or SYSTEM


@contextmanager
def acting(by=KEEP, action=None):
    """Attribute the history rows written inside the block to ``by`` (None: the system) doing ``action``."""
    if by is KEEP:
        outer = _acting.get()
        user, label = (outer.user, outer.label) if outer is not None else (KEEP, "")
    else:
        user, label = (by if hasattr(by, "get_username") else None), actor_label(by)
    token = _acting.set(_Acting(user=user, label=label, action=action))
    try:
        yield
    finally:
        _acting.reset(token)


class ActorHistory(models.Model):
    """Fields every historical table adds: the actor's name as it was then (kept if the login goes)."""

    history_actor = models.CharField(max_length=150, default=SYSTEM)

    class Meta:
        abstract = True


class TrackedHistory(HistoricalRecords):
    """HistoricalRecords that reads the actor and action from ``acting`` before the request's user."""

    def contribute_to_class(self, cls, name):
        super().contribute_to_class(cls, name)
        cls._tracked_history = self

    def create_history_model(self, model, inherited):
        # The historical rows belong to the same tenant and club as their row: crm/tenancy.py scopes them alike.
        history_model = super().create_history_model(model, inherited)
        for name in ("tenant_path", "club_path", "club_may_be_empty"):
            if name in model.__dict__:
                setattr(history_model, name, model.__dict__[name])
        return history_model

    def get_history_user(self, instance):
        current = _acting.get()
        if current is not None and current.user is not KEEP and not hasattr(instance, "_history_user"):
            return current.user
        return super().get_history_user(instance)

    def get_change_reason_for_object(self, instance, history_type, using):
        reason = super().get_change_reason_for_object(instance, history_type, using)
        current = _acting.get()
        if reason or current is None or history_type != "~":
            return reason
        return current.action


def tracked_history(*, excluded_fields=()):
    return TrackedHistory(bases=[ActorHistory], excluded_fields=list(excluded_fields))


@receiver(pre_create_historical_record)
def _name_the_actor(sender, history_instance, history_user, **kwargs):
    if not hasattr(history_instance, "history_actor"):
        return
    current = _acting.get()
    if current is not None and current.user is None and history_user is None:
        history_instance.history_actor = current.label[:150]
    else:
        history_instance.history_actor = actor_label(history_user)[:150]


def history_record(instance, *, action, by=None, as_written=False):
    """One history row for a change made by a conditional UPDATE: ``instance`` is re-read from the
    database, unless the caller says it already holds every field as the UPDATE wrote it (``as_written``)."""
    fresh = instance if as_written else type(instance)._default_manager.filter(pk=instance.pk).first()
    if fresh is None:
        return
    with acting(by, action):
        type(instance)._tracked_history.create_historical_record(fresh, "~")


_WHAT = {"+": "created it", "-": "deleted it", "~": "changed it"}


@dataclass(frozen=True)
class HistoryEntry:
    actor: str
    action: str
    at: object  # datetime
    kind: str  # "+", "~" or "-"

    @property
    def sentence(self):
        return f"{self.actor} {self.action}"


def history_entries(*, instance, limit=200):
    """Who did what to ``instance`` and when, newest first, as plain sentences' parts."""
    rows = (instance.history.order_by("-history_date", "-history_id")
            .values("history_actor", "history_change_reason", "history_type", "history_date")[:limit])
    return [HistoryEntry(actor=row["history_actor"] or SYSTEM,
                         action=row["history_change_reason"] or _WHAT.get(row["history_type"], "changed it"),
                         at=row["history_date"], kind=row["history_type"]) for row in rows]
