"""The plan of a promotion: when each announcement and reminder goes out, on which channel.

Moments are computed in the club's own timezone (zoneinfo), so "3 days before at 09:00" is
09:00 on the club's wall clock on either side of a daylight-saving change.
"""

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from crm.clock import club_local_to_utc, club_utc_to_local
from promotions.models import (
    PENDING_DISPATCH_STATUSES,
    DispatchKind,
    DispatchStatus,
    EventStatus,
    PromotionDispatch,
)

PASSED_REASON = "its moment had passed when planned"
AFTER_EVENT_REASON = "it would go out after the event starts"
DROPPED_REASON = "no longer part of the plan"
INACTIVE_REASON = "the promotion was deactivated"
CANCELLED_REASON = "the event was cancelled"


@dataclass(frozen=True)
class PlannedMoment:
    kind: str
    days_before: int
    channel: str
    scheduled_for: datetime.datetime
    skip_reason: str = ""

    @property
    def step(self):
        return (self.kind, self.days_before, self.channel)


def reminder_moment(*, event_starts_at, days_before, send_time, club):
    """`days_before` calendar days before the event's local date, at `send_time` on the club's clock."""
    event_day = club_utc_to_local(club, event_starts_at).date()
    local = datetime.datetime.combine(event_day - datetime.timedelta(days=days_before), send_time)
    return club_utc_to_local(club, club_local_to_utc(club, local))


def reminder_moments(*, promotion, now=None):
    """Every (step, channel) the promotion should have, with its moment and why it is skipped, if it is."""
    now = now or timezone.now()
    send_time = promotion.club.send_time
    if isinstance(send_time, str):
        send_time = datetime.time.fromisoformat(send_time)
    steps = [(DispatchKind.ANNOUNCEMENT, 0, promotion.announce_at or now)]
    steps += [
        (DispatchKind.REMINDER, days, reminder_moment(
            event_starts_at=promotion.event_starts_at, days_before=days, send_time=send_time, club=promotion.club))
        for days in sorted(set(promotion.reminder_days or []), reverse=True)
    ]
    moments = []
    for kind, days, at in steps:
        reason = ""
        if at < now:
            reason = PASSED_REASON
        elif at >= promotion.event_starts_at:
            reason = AFTER_EVENT_REASON
        for channel in dict.fromkeys(promotion.channels or []):  # each channel once, whatever was stored
            moments.append(PlannedMoment(kind, days, channel, at, reason))
    return sorted(moments, key=lambda m: (m.scheduled_for, m.channel))


def _cancel_pending(promotion, reason):
    return PromotionDispatch.objects.filter(promotion=promotion, status__in=PENDING_DISPATCH_STATUSES).update(
        status=DispatchStatus.CANCELLED, status_reason=reason, resume_at=None, updated_at=timezone.now()
    )


def _replannable(dispatch):
    """PLANNED steps move; a step cancelled or skipped by planning comes back when it fits again.

    Anything the dispatcher has touched (sending, held, sent, failed) stays as it is.
    """
    if dispatch.status == DispatchStatus.PLANNED or dispatch.status == DispatchStatus.CANCELLED:
        return True
    return dispatch.status == DispatchStatus.SKIPPED and dispatch.status_reason in (PASSED_REASON, AFTER_EVENT_REASON)


@transaction.atomic
def promotion_plan(*, promotion, now=None):
    """Bring the promotion's dispatches in line with its settings and its event.

    Only dispatches still PLANNED are moved (a conditional update, so one the dispatcher has
    just claimed is left alone); past moments are recorded SKIPPED, never sent late.
    """
    now = now or timezone.now()
    if promotion.event_status == EventStatus.CANCELLED:
        _cancel_pending(promotion, CANCELLED_REASON)
        return
    if not promotion.is_active:
        _cancel_pending(promotion, INACTIVE_REASON)
        return

    existing = {(d.kind, d.days_before, d.channel): d for d in PromotionDispatch.objects.filter(promotion=promotion)}
    wanted = reminder_moments(promotion=promotion, now=now)
    moves = []
    for moment in wanted:
        status = DispatchStatus.SKIPPED if moment.skip_reason else DispatchStatus.PLANNED
        current = existing.get(moment.step)
        if current is None:
            PromotionDispatch.objects.create(
                tenant_id=promotion.tenant_id, promotion=promotion, kind=moment.kind, days_before=moment.days_before,
                channel=moment.channel, scheduled_for=moment.scheduled_for, status=status,
                status_reason=moment.skip_reason,
            )
        elif _replannable(current):
            moves.append((current, moment, status))
    # Rows are updated in primary-key order, the order every writer of dispatch rows takes its locks in.
    for current, moment, status in sorted(moves, key=lambda move: move[0].pk):
        PromotionDispatch.objects.filter(pk=current.pk, status=current.status).update(
            scheduled_for=moment.scheduled_for, status=status, status_reason=moment.skip_reason, updated_at=now
        )
    dropped = [d.pk for step, d in existing.items() if step not in {m.step for m in wanted}]
    PromotionDispatch.objects.filter(pk__in=dropped, status__in=PENDING_DISPATCH_STATUSES).update(
        status=DispatchStatus.CANCELLED, status_reason=DROPPED_REASON, resume_at=None, updated_at=now
    )
