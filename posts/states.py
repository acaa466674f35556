"""The post status flow, in one place: which moves are allowed, and the error for the rest.

DRAFT (editable) → SCHEDULED (cancel → DRAFT) → PUBLISHING → PUBLISHED; FAILED on error
(FAILED can be edited, which makes it a DRAFT again, or retried, which schedules it again).
Services, the API, the admin and the pages all go through ``check_transition``.
"""

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
    (S.FAILED, S.DRAFT): "edit",
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


class IllegalTransition(Exception):
    """A status change the flow does not allow; the message is written for staff."""

    def __init__(self, *, post_status, action):
        self.post_status = str(post_status)
        self.action = action
        label = S(post_status).label.lower()
        hint = _HINTS.get(action, "that change is not part of the post's status flow")
        self.message = f"Cannot {action} a post that is {label}: {hint}."
        super().__init__(self.message)


def can_transition(current, target):
    return (S(current), S(target)) in TRANSITIONS


def check_transition(current, target, *, action):
    if not can_transition(current, target):
        raise IllegalTransition(post_status=current, action=action)


def check_editable(current):
    check_action(current, "edit")


def check_action(current, action):
    """Refuse a staff action the post's status does not allow."""
    if S(current) not in STAFF_ACTIONS[action]:
        raise IllegalTransition(post_status=current, action=action)


def allowed_actions(status):
    """What staff may do with a post in this status (shown as buttons, listed in the API)."""
    return [action for action, sources in STAFF_ACTIONS.items() if S(status) in sources]
