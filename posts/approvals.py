"""The approval rules, in one place: who may approve a post, and whether it may go out yet.

When the tenant's ``posts_need_approval`` is on, a post written by staff who cannot approve it
must be approved before it is scheduled or published. Tenant admins approve every club's posts;
staff named as approvers of a club (``StaffMembership.approver_for_clubs``) approve that club's
posts. Approval is recorded beside the status (``SocialPost.approval_state``); the services in
``posts/services.py`` change it, and the publisher never claims a post that still waits.
"""

from django.core.exceptions import PermissionDenied

from crm.tenancy import membership_of
from posts.models import ApprovalState as A
from posts.states import IllegalTransition

# States in which a post must not go out, whatever the tenant setting says now.
WAITING = (A.PENDING, A.CHANGES_REQUESTED)

NOT_APPROVED_MESSAGE = ("Not published: it was still waiting for approval when its time came. "
                        "Once it is approved, schedule it again.")


class NotAnApprover(PermissionDenied):
    """The user may not approve or send back this post."""

    def __init__(self, message="Only a tenant admin or an approver of the post's club can approve or send back posts."):
        self.message = message
        super().__init__(message)


def is_person(by):
    return hasattr(by, "get_username")


def can_approve(*, user, post):
    """Tenant admins approve every post of their tenant; named approvers their clubs' posts."""
    membership = membership_of(user) if is_person(user) else None
    if membership is None or membership.tenant_id != post.tenant_id:
        return False
    if membership.is_admin:
        return True
    club_id = post.connection.club_id
    if not hasattr(membership, "_approver_club_ids"):  # once per request's membership object
        membership._approver_club_ids = set(membership.approver_for_clubs.values_list("pk", flat=True))
    return club_id is not None and club_id in membership._approver_club_ids


def approval_needed(*, post, by):
    """Whether ``by`` needs someone else's approval before this post goes out (the system never does)."""
    return bool(post.tenant.posts_need_approval) and is_person(by) and not can_approve(user=by, post=post)


def check_may_go_out(*, post, by, action):
    """Refuse scheduling or publishing a post that waits for approval, or needs it and lacks it."""
    if post.approval_state == A.PENDING:
        raise IllegalTransition(post_status=post.status, action=action,
                                hint="it is awaiting approval; an approver must approve it first")
    if post.approval_state == A.CHANGES_REQUESTED:
        raise IllegalTransition(post_status=post.status, action=action,
                                hint="changes were requested; edit it and submit it for approval again")
    if post.approval_state != A.APPROVED and approval_needed(post=post, by=by):
        raise IllegalTransition(post_status=post.status, action=action,
                                hint="posts need approval here; submit it for approval first")


def approval_actions(*, post, user):
    """What ``user`` may do about the post's approval now: submit, approve, send_back."""
    from posts.models import SocialPostStatus as S

    actions = []
    open_status = post.status in (S.DRAFT, S.FAILED)
    if post.tenant.posts_need_approval and open_status and (
            post.approval_state == A.CHANGES_REQUESTED
            or (post.approval_state == A.NOT_NEEDED and approval_needed(post=post, by=user))):
        actions.append("submit")
    decidable = post.approval_state == A.PENDING or (
        post.approval_state == A.APPROVED and post.status in (S.DRAFT, S.SCHEDULED, S.FAILED))
    if decidable and can_approve(user=user, post=post):  # asked only when there is something to decide
        if post.approval_state == A.PENDING:
            actions.append("approve")
        actions.append("send_back")
    return actions
