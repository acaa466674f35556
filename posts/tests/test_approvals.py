"""Approvals: the tenant setting, submit / approve / send back, and that nothing unapproved goes out."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from connections.tests.factories import SocialConnectionFactory
from crm.models import StaffRole
from crm.tests.factories import ClubFactory, StaffFactory
from posts import signals
from posts.approvals import NOT_APPROVED_MESSAGE, NotAnApprover
from posts.models import ApprovalState as A
from posts.models import PublishErrorKind as K
from posts.models import SocialPost
from posts.models import SocialPostStatus as S
from posts.publishing import due_posts, posts_publish_due
from posts.services import (
    post_approve,
    post_create,
    post_publish_now,
    post_retry,
    post_schedule,
    post_send_back,
    post_submit,
    post_update,
    posts_compose,
)
from posts.states import IllegalTransition
from posts.tests.factories import SocialPostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(club):
    """A tenant whose staff posts need approval: an author, an admin, a named approver, another club's approver."""
    tenant = club.tenant
    tenant.posts_need_approval = True
    tenant.save()
    other_club = ClubFactory(tenant=tenant)
    approver = StaffFactory(tenant=tenant, user__username="rory", user__first_name="Rory")
    approver.approver_for_clubs.add(club)
    elsewhere = StaffFactory(tenant=tenant, user__username="ola")
    elsewhere.approver_for_clubs.add(other_club)
    return {
        "tenant": tenant, "club": club,
        "connection": SocialConnectionFactory(club=club, tenant=tenant, platform="FACEBOOK"),
        "author": StaffFactory(tenant=tenant, user__username="sam").user,
        "admin": StaffFactory(tenant=tenant, role=StaffRole.ADMIN, user__username="anna", user__first_name="Anna").user,
        "approver": approver.user, "elsewhere": elsewhere.user,
    }


def later(hours=3):
    return timezone.now() + timedelta(hours=hours)


def draft(team, text="Course open at 7am", **kw):
    return post_create(tenant=team["tenant"], connection=team["connection"], content=text,
                       created_by=team["author"], **kw)


@pytest.fixture
def heard():
    """What the approval signals told their receivers (after commit)."""
    got = []

    def requested(sender, post, by, **kw):
        got.append(("requested", post.pk, by.get_username()))

    def decided(sender, post, by, approved, comment, **kw):
        got.append(("decided", post.pk, by.get_username(), approved, comment))

    signals.approval_requested.connect(requested)
    signals.approval_decided.connect(decided)
    yield got
    signals.approval_requested.disconnect(requested)
    signals.approval_decided.disconnect(decided)


# ----------------------------------------------------------------------------- services


def test_staff_cannot_schedule_or_publish_an_unapproved_post(team):
    post = draft(team)
    assert post.approval_state == A.NOT_NEEDED
    for attempt in (lambda: post_schedule(post=post, at=later(), by=team["author"]),
                    lambda: post_publish_now(post=post, by=team["author"])):
        with pytest.raises(IllegalTransition, match="submit it for approval"):
            attempt()
    post.refresh_from_db()
    assert post.status == S.DRAFT


def test_without_the_setting_staff_schedule_as_before(team):
    team["tenant"].posts_need_approval = False
    team["tenant"].save()
    post = post_schedule(post=draft(team), at=later(), by=team["author"])
    assert post.status == S.SCHEDULED and post.approval_state == A.NOT_NEEDED
    with pytest.raises(IllegalTransition, match="do not need approval"):
        post_submit(post=draft(team), by=team["author"])


def test_asking_for_a_time_submits_the_post_and_approving_schedules_it(team, heard, django_capture_on_commit_callbacks):
    at = later()
    with django_capture_on_commit_callbacks(execute=True):
        post = draft(team, scheduled_at=at)
    assert (post.status, post.approval_state, post.scheduled_at) == (S.DRAFT, A.PENDING, at)
    assert post.approval_requested_by == team["author"] and post.approval_requested_at is not None
    assert heard == [("requested", post.pk, "sam")]
    with django_capture_on_commit_callbacks(execute=True):
        post_approve(post=post, by=team["approver"], comment="Lovely")
    post.refresh_from_db()
    assert (post.status, post.approval_state, post.scheduled_at) == (S.SCHEDULED, A.APPROVED, at)
    assert post.approval_decided_by == team["approver"] and post.approval_comment == "Lovely"
    assert heard[-1] == ("decided", post.pk, "rory", True, "Lovely")


def test_submit_then_send_back_then_resubmit(team, heard, django_capture_on_commit_callbacks):
    post = draft(team)
    with django_capture_on_commit_callbacks(execute=True):
        post_submit(post=post, by=team["author"])
    assert post.approval_state == A.PENDING
    with pytest.raises(IllegalTransition, match="already awaiting approval"):
        post_submit(post=post, by=team["author"])
    with pytest.raises(Exception, match="Say what should change"):
        post_send_back(post=post, by=team["admin"], comment="  ")
    with django_capture_on_commit_callbacks(execute=True):
        post_send_back(post=post, by=team["admin"], comment="Add the tee times")
    post.refresh_from_db()
    assert (post.approval_state, post.approval_comment, post.approval_decided_by) == (
        A.CHANGES_REQUESTED, "Add the tee times", team["admin"])
    assert heard[-1] == ("decided", post.pk, "anna", False, "Add the tee times")
    # Changes requested: even an approver cannot push it out before it is submitted again.
    with pytest.raises(IllegalTransition, match="changes were requested"):
        post_schedule(post=post, at=later(), by=team["admin"])
    post_update(post=post, by=team["author"], content="Tee times 7am to 9am")
    post_submit(post=post, by=team["author"])
    post.refresh_from_db()
    assert post.approval_state == A.PENDING and post.approval_comment == ""


def test_only_admins_and_the_clubs_approvers_decide(team):
    post = draft(team)
    post_submit(post=post, by=team["author"])
    for outsider in (team["author"], team["elsewhere"]):
        with pytest.raises(NotAnApprover):
            post_approve(post=post, by=outsider)
        with pytest.raises(NotAnApprover):
            post_send_back(post=post, by=outsider, comment="no")
    foreign_admin = StaffFactory(role=StaffRole.ADMIN).user  # another tenant's admin
    with pytest.raises(NotAnApprover):
        post_approve(post=post, by=foreign_admin)
    post.refresh_from_db()
    assert post.approval_state == A.PENDING
    post_approve(post=post, by=team["admin"])
    post.refresh_from_db()
    assert post.approval_state == A.APPROVED


def test_a_tenant_wide_account_is_approved_by_admins_only(team):
    shared = SocialConnectionFactory(club=None, tenant=team["tenant"], platform="FACEBOOK")
    post = post_create(tenant=team["tenant"], connection=shared, content="Group news", created_by=team["author"])
    post_submit(post=post, by=team["author"])
    with pytest.raises(NotAnApprover):
        post_approve(post=post, by=team["approver"])
    post_approve(post=post, by=team["admin"])


def test_approvers_schedule_their_own_posts_without_asking(team):
    for who in ("admin", "approver"):
        post = post_create(tenant=team["tenant"], connection=team["connection"], content=f"From {who}",
                           created_by=team[who], scheduled_at=later())
        assert (post.status, post.approval_state) == (S.SCHEDULED, A.NOT_NEEDED)


def test_editing_approved_content_sends_it_back_to_pending(team, heard, django_capture_on_commit_callbacks):
    post = draft(team)
    post_submit(post=post, by=team["author"])
    post_approve(post=post, by=team["admin"])
    post.refresh_from_db()
    post_update(post=post, by=team["author"], campaign=None)  # nothing the platform would show: still approved
    post.refresh_from_db()
    assert post.approval_state == A.APPROVED
    with django_capture_on_commit_callbacks(execute=True):
        post_update(post=post, by=team["author"], content="Course closed after all")
    post.refresh_from_db()
    assert post.approval_state == A.PENDING and post.approval_requested_by == team["author"]
    assert heard[-1] == ("requested", post.pk, "sam")
    with pytest.raises(IllegalTransition, match="awaiting approval"):
        post_schedule(post=post, at=later(), by=team["author"])


def test_sending_back_an_approved_scheduled_post_makes_it_a_draft(team):
    post = draft(team, scheduled_at=later())
    post_approve(post=post, by=team["admin"])
    post.refresh_from_db()
    assert post.status == S.SCHEDULED
    post_send_back(post=post, by=team["approver"], comment="Wrong date")
    post.refresh_from_db()
    assert (post.status, post.approval_state) == (S.DRAFT, A.CHANGES_REQUESTED)


def test_composer_publish_now_is_refused_for_staff_who_need_approval(team):
    with pytest.raises(Exception, match="need approval"):
        posts_compose(tenant=team["tenant"], connections=[team["connection"]], content="Now!", publish_now=True,
                      by=team["author"])
    assert not SocialPost.objects.exists()


def test_retrying_a_failed_post_needs_approval_too(team):
    post = SocialPostFactory(connection=team["connection"], status=S.FAILED, error="boom", error_kind=K.TRANSIENT)
    with pytest.raises(IllegalTransition, match="submit it for approval"):
        post_retry(post=post, by=team["author"])
    post_retry(post=post, by=team["admin"])


def test_promotion_posts_are_not_held_for_approval(team):
    post = post_create(tenant=team["tenant"], connection=team["connection"], content="Medal day",
                       created_by="promotion", scheduled_at=timezone.now())
    assert (post.status, post.approval_state) == (S.SCHEDULED, A.NOT_NEEDED)


# ----------------------------------------------------------------------------- the publisher


def test_the_publisher_never_claims_a_post_awaiting_approval_and_says_why(team, django_capture_on_commit_callbacks):
    waiting = SocialPostFactory(connection=team["connection"], status=S.SCHEDULED, approval_state=A.PENDING,
                                scheduled_at=timezone.now() - timedelta(seconds=5))
    sent_back = SocialPostFactory(connection=team["connection"], status=S.SCHEDULED,
                                  approval_state=A.CHANGES_REQUESTED, scheduled_at=timezone.now())
    assert due_posts(now=timezone.now(), limit=10) == []
    with django_capture_on_commit_callbacks(execute=True):
        assert posts_publish_due() == []
    for post in (waiting, sent_back):
        post.refresh_from_db()
        assert (post.status, post.error_kind, post.error) == (S.FAILED, K.NOT_APPROVED, NOT_APPROVED_MESSAGE)
        assert post.attempts == 0 and post.platform_post_id is None
    assert waiting.history.first().history_change_reason == "held it back: not approved in time"


def test_approved_and_not_needed_posts_are_still_claimed(team):
    approved = SocialPostFactory(connection=team["connection"], status=S.SCHEDULED, approval_state=A.APPROVED,
                                 scheduled_at=timezone.now())
    before_the_setting = SocialPostFactory(connection=team["connection"], status=S.SCHEDULED,
                                           scheduled_at=timezone.now())
    assert set(due_posts(now=timezone.now() + timedelta(seconds=1), limit=10)) == {approved.pk, before_the_setting.pk}


# ----------------------------------------------------------------------------- API


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_api_submit_approve_send_back_with_permissions(team):
    post = draft(team)
    url = lambda name: reverse(f"post-{name}", args=[post.pk])  # noqa: E731
    answer = api(team["author"]).post(url("submit"), format="json")
    assert answer.status_code == 200, answer.content
    approval = answer.json()["approval"]
    assert approval["state"] == "pending" and approval["requested_by"] == "sam" and approval["actions"] == []
    assert api(team["admin"]).get(url("detail")).json()["approval"]["actions"] == ["approve", "send_back"]
    refused = api(team["author"]).post(url("approve"), {}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert api(team["elsewhere"]).post(url("send-back"), {"comment": "x"}, format="json").status_code == 403
    missing = api(team["admin"]).post(url("send-back"), {}, format="json")
    assert missing.status_code == 400 and "comment" in missing.json()["fields"]
    sent = api(team["approver"]).post(url("send-back"), {"comment": "Add a photo"}, format="json")
    assert sent.status_code == 200
    assert sent.json()["approval"] | {"decided_at": None} == {
        "state": "changes_requested", "state_label": "Changes requested", "requested_by": "sam",
        "requested_at": sent.json()["approval"]["requested_at"], "decided_by": "Rory", "decided_at": None,
        "comment": "Add a photo", "actions": ["submit"]}
    conflict = api(team["admin"]).post(url("approve"), {}, format="json")
    assert conflict.status_code == 409 and "not awaiting approval" in conflict.json()["detail"]
    api(team["author"]).post(url("submit"), format="json")
    approved = api(team["admin"]).post(url("approve"), {"comment": "Go"}, format="json").json()["approval"]
    assert approved["state"] == "approved" and approved["decided_by"] == "Anna" and approved["comment"] == "Go"
    scheduled = api(team["author"]).post(url("schedule"), {"scheduled_at": later().isoformat()}, format="json")
    assert scheduled.status_code == 200 and scheduled.json()["status"] == "SCHEDULED"


def test_api_schedule_of_an_unapproved_post_is_a_conflict_and_list_filters_awaiting(team):
    post = draft(team)
    answer = api(team["author"]).post(reverse("post-schedule", args=[post.pk]),
                                      {"scheduled_at": later().isoformat()}, format="json")
    assert answer.status_code == 409 and "approval" in answer.json()["detail"]
    waiting = draft(team, "Second", scheduled_at=later())
    listed = api(team["admin"]).get(reverse("post-list") + "?approval=pending").json()["results"]
    assert [p["id"] for p in listed] == [str(waiting.pk)]
    assert api(team["admin"]).get(reverse("post-list") + "?approval=maybe").status_code == 400


def test_api_other_tenants_cannot_act_on_the_post(team):
    post = draft(team)
    post_submit(post=post, by=team["author"])
    foreign_admin = StaffFactory(role=StaffRole.ADMIN).user
    for name in ("approve", "send-back", "submit"):
        assert api(foreign_admin).post(reverse(f"post-{name}", args=[post.pk]), {"comment": "x"},
                                       format="json").status_code == 404
    post.refresh_from_db()
    assert post.approval_state == A.PENDING


def test_tenant_settings_api_is_for_admins(team):
    url = reverse("tenant-settings")
    assert api(team["author"]).get(url).status_code == 403
    assert api(team["author"]).patch(url, {"posts_need_approval": False}, format="json").status_code == 403
    assert api(team["admin"]).get(url).json()["posts_need_approval"] is True
    bad = api(team["admin"]).patch(url, {"posts_need_approval": "perhaps"}, format="json")
    assert bad.status_code == 400 and "posts_need_approval" in bad.json()["fields"]
    assert api(team["admin"]).patch(url, {"posts_need_approval": False}, format="json").json()[
        "posts_need_approval"] is False
    team["tenant"].refresh_from_db()
    assert team["tenant"].posts_need_approval is False


def test_tenant_settings_patch_without_a_setting_is_refused_and_changes_nothing(team):
    url = reverse("tenant-settings")
    for body, kind in (({}, "json"), ([True], "json"), (7, "json"), ({"name": "Renamed"}, "json"), ({}, "multipart")):
        answer = api(team["admin"]).patch(url, body, format=kind)
        assert answer.status_code == 400, (body, kind)
        assert "posts_need_approval" in answer.json()["detail"]
    team["tenant"].refresh_from_db()
    assert team["tenant"].posts_need_approval is True and team["tenant"].name != "Renamed"


def test_schema_documents_the_approval_actions_and_history():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    for action in ("submit", "approve", "send-back"):
        operation = paths[f"/api/v1/posts/{{id}}/{action}/"]["post"]
        assert {"200", "403", "404", "409"} <= set(operation["responses"])
    for kind in ("posts", "promotions", "connections"):
        assert "200" in paths[f"/api/v1/{kind}/{{id}}/history/"]["get"]["responses"]
    approval = schema["components"]["schemas"]["Approval"]["properties"]
    assert {"state", "requested_by", "requested_at", "decided_by", "decided_at", "comment"} <= set(approval)
    assert "/api/v1/tenant/settings/" in paths


# ----------------------------------------------------------------------------- pages


def test_pages_show_the_approval_and_let_approvers_decide(team, client):
    post = draft(team, "Spring meeting", scheduled_at=later())
    client.force_login(team["author"])
    page = client.get(reverse("posts:detail", args=[post.pk])).content.decode()
    assert "Awaiting approval" in page and 'id="approve-post"' not in page and 'value="schedule"' not in page
    listed = client.get(reverse("posts:list") + "?approval=pending").content.decode()
    assert "Spring meeting" in listed and "Awaiting approval" in listed
    assert "Spring meeting" not in client.get(reverse("posts:list") + "?approval=approved").content.decode()
    day = post.scheduled_at.astimezone(team["club"].timezone).date().isoformat()
    calendar = client.get(reverse("posts:calendar") + f"?view=week&date={day}").content.decode()
    assert "awaiting-approval" in calendar and "approval-marker" in calendar
    refused = client.post(reverse("posts:action", args=[post.pk]), {"action": "approve"}, follow=True)
    assert "Only a tenant admin or an approver" in refused.content.decode()
    client.force_login(team["approver"])
    client.post(reverse("posts:action", args=[post.pk]), {"action": "send_back", "comment": "Say which course"})
    post.refresh_from_db()
    assert post.approval_state == A.CHANGES_REQUESTED
    client.force_login(team["author"])
    page = client.get(reverse("posts:detail", args=[post.pk])).content.decode()
    assert "Say which course" in page and "Rory" in page and 'id="submit-for-approval"' in page


def test_approving_a_post_whose_account_needs_reconnecting_approves_it_as_a_draft(team):
    post = draft(team, scheduled_at=later())
    team["connection"].is_active = False
    team["connection"].save()
    post_approve(post=post, by=team["admin"])
    post.refresh_from_db()
    assert (post.status, post.approval_state) == (S.DRAFT, A.APPROVED)


def test_submit_is_offered_to_those_who_need_approval(team):
    from posts.approvals import approval_actions

    post = draft(team)
    assert approval_actions(post=post, user=team["author"]) == ["submit"]
    assert approval_actions(post=post, user=team["admin"]) == []
