"""Approval in headless Chromium: a staff post awaits approval, an admin approves it, and it publishes."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crm.models import StaffRole
from crm.tests.factories import StaffFactory
from posts.models import ApprovalState as A
from posts.models import SocialPost
from posts.models import SocialPostStatus as S
from posts.publishing import posts_publish_due

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_staff_post_awaits_approval_an_admin_approves_it_and_it_publishes(page, login, club, connect, simulator,
                                                                            eager_celery):
    club.tenant.posts_need_approval = True
    club.tenant.save()
    StaffFactory(tenant=club.tenant, user__username="pat")
    StaffFactory(tenant=club.tenant, user__username="anna", user__first_name="Anna", role=StaffRole.ADMIN)
    x = connect("twitter")

    login("pat")
    page.goto("/posts/new/")
    page.check(f"input[name=connections][value='{x.pk}']")
    page.fill("#id_content", "Junior open entries close Sunday")
    local = (timezone.now() + timedelta(minutes=30)).astimezone(ZoneInfo(str(club.timezone)))
    page.fill("#id_scheduled_local", local.strftime("%Y-%m-%dT%H:%M"))
    page.locator(".counter[data-platform=TWITTER]:not(.error)").wait_for()
    page.click("#schedule")
    page.wait_for_selector("#post-approval")
    assert "sent for approval" in page.inner_text("body")
    assert page.inner_text("#post-status") == "Draft" and page.inner_text("#approval-state") == "Awaiting approval"
    assert page.locator("#approve-post").count() == 0  # the author cannot approve their own post
    post = SocialPost.objects.get()
    assert (post.status, post.approval_state) == (S.DRAFT, A.PENDING)
    # Nothing goes out while it waits, whatever the clock says.
    posts_publish_due(now=post.scheduled_at + timedelta(seconds=1))
    assert simulator.published(platform="twitter") == []

    page.context.clear_cookies()
    login("anna")
    page.goto(f"/posts/?approval={A.PENDING}")
    page.click(f"#post-{post.pk} a")
    page.fill("#approval-comment-input", "Good to go")
    page.click("#approve-post")
    page.wait_for_selector("text=Post approved.")
    assert page.inner_text("#post-status") == "Scheduled" and page.inner_text("#approval-state") == "Approved"
    assert "Anna" in page.inner_text("#approval-decided") and page.inner_text("#approval-comment") == "Good to go"

    post.refresh_from_db()
    posts_publish_due(now=post.scheduled_at + timedelta(seconds=1))  # its time comes: the publisher's scan
    post.refresh_from_db()
    assert post.status == S.PUBLISHED, post.error
    assert [p["text"] for p in simulator.published(platform="twitter")] == ["Junior open entries close Sunday"]
    page.reload()
    assert page.inner_text("#post-status") == "Published"
    timeline = page.inner_text("#history")
    for line in ("pat created it", "Anna approved it",
                 "Anna scheduled it", "system published it"):
        assert line in timeline
