"""The post status flow, in one place: which moves are allowed, and the error for the rest.

DRAFT (editable) → SCHEDULED (cancel → DRAFT) → PUBLISHING → PUBLISHED; FAILED on error
(FAILED can be retried, which schedules it again, or edited, which keeps it FAILED and so still
retryable). A refusal that would only repeat (a duplicate, content the platform refused, a missing
permission) blocks retrying until its cause changes: an edit, or a reconnect for a permission.
Services, the API, the admin and the pages all go through ``check_transition``.
"""

import functools

from posts.models import PublishErrorKind as K
from posts.models import SocialPostStatus as S

# (from, to) -> the action's name as staff know it
TRANSITIONS = {
    (S.DRAFT, S.SCHEDULED): "schedule",
    (S.DRAFT, S.PUBLISHING): "publish",
    (S.SCHEDULED, S.SCHEDULED): "reschedule",
    (S.SCHEDULED, S.DRAFT): "cancel",
    (S.SCHEDULED, S.PUBLISHING): "publish",
    (S.SCHEDULED, S.FAILED): "fail",  # missed its publish time
    (S.PUBLISHING, S.PUBLISHED): "record publication",
    (S.PUBLISHING, S.FAILED): "fail",
    (S.PUBLISHING, S.SCHEDULED): "retry",  # transient error, or reconciled after a dead worker
    (S.FAILED, S.SCHEDULED): "retry",
    (S.FAILED, S.PUBLISHING): "publish",
}

EDITABLE = (S.DRAFT, S.FAILED)

# What staff (pages, API, admin) may do, and from which statuses; the system's own moves
# (claim, record publication, retry after an error, fail) use TRANSITIONS directly.
STAFF_ACTIONS = {
    "schedule": (S.DRAFT, S.SCHEDULED),
    "cancel": (S.SCHEDULED,),
    "publish": (S.DRAFT, S.SCHEDULED, S.FAILED),
    "retry": (S.FAILED,),
    "edit": EDITABLE,
    "delete": (S.DRAFT, S.SCHEDULED, S.FAILED),
}

_HINTS = {
    "schedule": "only a draft can be scheduled (a failed post is retried instead)",
    "cancel": "only a scheduled post can be cancelled",
    "retry": "only a failed post can be retried",
    "publish": "only a draft, scheduled or failed post can be published",
    "edit": "only a draft or failed post can be edited",
    "delete": "a post being published or already published cannot be deleted",
}


# Refusals that sending the same post again would only repeat: (what changes the cause, why).
BLOCKING_KINDS = {
    K.DUPLICATE: "the platform refused it as a duplicate of a recent post; edit the text first",
    K.INVALID_CONTENT: "the platform refused its content; edit it first",
    K.PERMISSION: "the account lacks a permission; reconnect the account (granting it) or edit the post first",
}
# The actions that would send the post to the platform again.
SENDING_ACTIONS = ("retry", "publish")


class IllegalTransition(Exception):
    """A status change the flow does not allow; the message is written for staff."""

    def __init__(self, *, post_status, action, hint=None):
        self.post_status = str(post_status)
        self.action = action
        label = S(post_status).label.lower()
        hint = hint or _HINTS.get(action, "that change is not part of the post's status flow")
        self.message = f"Cannot {action} a post that is {label}: {hint}."
        super().__init__(self.message)


def retry_block(status, error_kind):
    """Why sending a failed post again would only repeat its refusal, or None."""
    if S(status) != S.FAILED or not error_kind:
        return None
    return BLOCKING_KINDS.get(K(error_kind))


def can_transition(current, target):
    return (S(current), S(target)) in TRANSITIONS


def check_transition(current, target, *, action):
    if not can_transition(current, target):
        raise IllegalTransition(post_status=current, action=action)


def check_editable(current):
    check_action(current, "edit")


def check_action(current, action, *, error_kind=None):
    """Refuse a staff action the post's status (and, for a failed post, its refusal) does not allow."""
    if S(current) not in STAFF_ACTIONS[action]:
        raise IllegalTransition(post_status=current, action=action)
    block = retry_block(current, error_kind) if action in SENDING_ACTIONS else None
    if block:
        raise IllegalTransition(post_status=current, action=action, hint=block)


def allowed_actions(status, error_kind=None):
    """What staff may do with a post in this status (shown as buttons, listed in the API)."""
    return list(_allowed_actions(str(status), str(error_kind) if error_kind else None))


@functools.lru_cache(maxsize=256)
def _allowed_actions(status, error_kind):
    # A few dozen (status, refusal) pairs exist; a list page asks for them 50 times.
    blocked = retry_block(status, error_kind)
    return tuple(action for action, sources in STAFF_ACTIONS.items()
                 if S(status) in sources and not (blocked and action in SENDING_ACTIONS))
