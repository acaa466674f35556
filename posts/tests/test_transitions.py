"""Every status × action, legal and illegal, through the service, the API and the admin."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import CampaignFactory, StaffFactory
from posts import services
from posts.models import SocialPost
from posts.models import SocialPostStatus as S
from posts.states import IllegalTransition
from posts.tests.factories import SocialPostFactory

pytestmark = pytest.mark.django_db

LATER = timedelta(days=2)

# action -> (statuses where it is legal, status afterwards)
LEGAL = {
    "schedule": ({S.DRAFT, S.SCHEDULED}, S.SCHEDULED),
    "cancel": ({S.SCHEDULED}, S.DRAFT),
    "publish": ({S.DRAFT, S.SCHEDULED, S.FAILED}, S.PUBLISHING),
    "retry": ({S.FAILED}, S.SCHEDULED),
    "edit": ({S.DRAFT, S.FAILED}, "same"),  # a failed post stays failed, so it can still be retried
    "delete": ({S.DRAFT, S.SCHEDULED, S.FAILED}, None),
}
CASES = [(action, status) for action in LEGAL for status in S.values]


def make_post(status, **kw):
    extra = {"scheduled_at": timezone.now() + timedelta(hours=1)} if status != S.DRAFT else {}
    if status == S.FAILED:
        # A refusal that may pass on another try (a duplicate or a missing permission blocks retrying:
        # see test_truthful_pages).
        extra.update(error="X had a temporary problem.", error_kind="TRANSIENT", attempts=3)
    return SocialPostFactory(status=status, **extra, **kw)


def run_service(action, post):
    calls = {
        "schedule": lambda: services.post_schedule(post=post, at=timezone.now() + LATER, by="alex"),
        "cancel": lambda: services.post_cancel(post=post, by="alex"),
        "publish": lambda: services.post_publish_now(post=post, by="alex"),
        "retry": lambda: services.post_retry(post=post, by="alex"),
        "edit": lambda: services.post_update(post=post, by="alex", content="Edited"),
        "delete": lambda: services.post_delete(post=post, by="alex"),
    }
    return calls[action]()


def status_now(post):
    return SocialPost.objects.filter(pk=post.pk).values_list("status", flat=True).first()


@pytest.mark.parametrize("action, status", CASES)
def test_service(action, status):
    post = make_post(status)
    legal, after = LEGAL[action]
    after = status if after == "same" else after
    if status in legal:
        run_service(action, post)
        assert status_now(post) == after
    else:
        with pytest.raises(IllegalTransition) as caught:
            run_service(action, post)
        assert caught.value.message.startswith(f"Cannot {action} a post that is {S(status).label.lower()}")
        assert status_now(post) == status


@pytest.fixture
def api(tenant):
    user = StaffFactory(tenant=tenant).user
    client = APIClient()
    client.force_authenticate(user)
    return client


def api_call(client, action, post):
    url = reverse("post-detail", args=[post.pk])
    if action == "edit":
        return client.patch(url, {"content": "Edited"}, format="json")
    if action == "delete":
        return client.delete(url)
    body = {"scheduled_at": (timezone.now() + LATER).isoformat()} if action == "schedule" else {}
    return client.post(reverse(f"post-{action}", args=[post.pk]), body, format="json")


@pytest.mark.parametrize("action, status", CASES)
def test_api(api, tenant, action, status):
    post = make_post(status, connection=SocialConnectionFactory(club__tenant=tenant))
    legal, after = LEGAL[action]
    after = status if after == "same" else after
    response = api_call(api, action, post)
    if status in legal:
        assert response.status_code in (200, 202, 204), response.content
        assert status_now(post) == after
        if after:
            assert response.json()["status"] == after
    else:
        assert response.status_code == 409, response.content
        assert response.json()["detail"].startswith(f"Cannot {action} a post")
        assert status_now(post) == status


@pytest.mark.parametrize("status", S.values)
@pytest.mark.parametrize("admin_action, legal_from, after", [
    ("retry_failed", S.FAILED, S.SCHEDULED), ("cancel_scheduled", S.SCHEDULED, S.DRAFT)])
def test_admin_action(admin_client, admin_action, legal_from, after, status):
    post = make_post(status)
    response = admin_client.post(reverse("admin:posts_socialpost_changelist"),
                                 {"action": admin_action, "_selected_action": [str(post.pk)]}, follow=True)
    text = response.content.decode()
    if status == legal_from:
        assert status_now(post) == after and "1 post" in text
    else:
        assert status_now(post) == status
        verb = "retry" if admin_action == "retry_failed" else "cancel"
        assert f"Cannot {verb} a post that is {S(status).label.lower()}" in text


def test_admin_refuses_editing_a_published_post(admin_client):
    post = make_post(S.PUBLISHED)
    page = admin_client.get(reverse("admin:posts_socialpost_change", args=[post.pk])).content.decode()
    assert 'name="content"' not in page  # every field read-only


def test_admin_form_applies_the_platform_rules(admin_client):
    connection = SocialConnectionFactory(platform="TWITTER")
    response = admin_client.post(reverse("admin:posts_socialpost_add"), {
        "tenant": connection.tenant_id, "connection": connection.pk, "content": "x" * 300, "media_urls": "[]",
        "hashtags": "[]", "created_by": "admin", "likes": 0, "comments": 0, "shares": 0, "reach": 0,
        "impressions": 0})
    assert "X (Twitter) allows 280 characters" in response.content.decode()
    assert not SocialPost.objects.exists()


# ------------------------------------------------------------------ API: create, tenancy, filters, queries


def test_api_create_and_other_tenant_ids_are_not_found(api, tenant):
    mine = SocialConnectionFactory(club__tenant=tenant)
    theirs = SocialConnectionFactory()
    url = reverse("post-list")
    created = api.post(url, {"connection": str(mine.pk), "content": "Hello", "hashtags": ["golf"]}, format="json")
    assert created.status_code == 201 and created.json()["status"] == "DRAFT"
    assert "actions" in created.json() and "tenant" in created.json()
    foreign = api.post(url, {"connection": str(theirs.pk), "content": "Hello"}, format="json")
    assert foreign.status_code == 400 and foreign.json()["fields"] == {"connection": ["Not found."]}
    campaign = CampaignFactory(tenant=theirs.tenant)
    foreign = api.post(url, {"connection": str(mine.pk), "content": "x", "campaign": str(campaign.pk)}, format="json")
    assert foreign.status_code == 400 and foreign.json()["fields"] == {"campaign": ["Not found."]}
    garbage = api.post(url, {"connection": "not-a-uuid", "content": "x"}, format="json")
    assert garbage.status_code == 400 and garbage.json()["fields"] == {"connection": ["Not found."]}
    other_post = SocialPostFactory(connection=theirs)
    assert api.get(reverse("post-detail", args=[other_post.pk])).status_code == 404
    assert api.post(reverse("post-cancel", args=[other_post.pk])).status_code == 404


def test_api_create_scheduled_and_content_errors(api, tenant):
    x = SocialConnectionFactory(club__tenant=tenant, platform="TWITTER")
    at = (timezone.now() + timedelta(hours=3)).isoformat()
    response = api.post(reverse("post-list"), {"connection": str(x.pk), "content": "Tee time", "scheduled_at": at},
                        format="json")
    assert response.status_code == 201 and response.json()["status"] == "SCHEDULED"
    response = api.post(reverse("post-list"), {"connection": str(x.pk), "content": "y" * 281}, format="json")
    assert response.status_code == 400
    assert "X (Twitter) allows 280 characters" in response.json()["fields"]["content"][0]


def test_api_filters(api, tenant):
    fb = SocialConnectionFactory(club__tenant=tenant)
    x = SocialConnectionFactory(club=fb.club, tenant=tenant, platform="TWITTER")
    campaign = CampaignFactory(tenant=tenant)
    soon = timezone.now() + timedelta(hours=1)
    a = SocialPostFactory(connection=fb, status=S.SCHEDULED, scheduled_at=soon, campaign=campaign)
    b = SocialPostFactory(connection=x, status=S.DRAFT)
    c = SocialPostFactory(connection=x, status=S.SCHEDULED, scheduled_at=soon + timedelta(days=3))

    def ids(**query):
        return {row["id"] for row in api.get(reverse("post-list"), query).json()["results"]}

    assert ids(status="SCHEDULED") == {str(a.pk), str(c.pk)}
    assert ids(connection=str(x.pk)) == {str(b.pk), str(c.pk)}
    assert ids(campaign=str(campaign.pk)) == {str(a.pk)}
    assert ids(scheduled_after=(soon + timedelta(days=1)).isoformat()) == {str(c.pk)}
    assert ids(platform="twitter") == {str(b.pk), str(c.pk)}


def test_api_list_queries_do_not_grow_with_page_size(api, tenant, django_assert_max_num_queries):
    connection = SocialConnectionFactory(club__tenant=tenant)
    SocialPostFactory.create_batch(3, connection=connection)
    with django_assert_max_num_queries(6) as small:
        assert len(api.get(reverse("post-list")).json()["results"]) == 3
    SocialPostFactory.create_batch(40, connection=connection)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(api.get(reverse("post-list")).json()["results"]) == 43


def test_admin_add_goes_through_the_services_and_their_time_rules(admin_client):
    connection = SocialConnectionFactory(platform="TWITTER")
    form = {"tenant": connection.tenant_id, "connection": connection.pk, "content": "Course open", "media_urls": "[]",
            "hashtags": "[]", "created_by": "admin", "likes": 0, "comments": 0, "shares": 0, "reach": 0,
            "impressions": 0}
    past = admin_client.post(reverse("admin:posts_socialpost_add"), {
        **form, "scheduled_at_0": "2020-01-01", "scheduled_at_1": "09:00:00"})
    assert past.status_code == 200 and not SocialPost.objects.exists()  # a form error, not a silent write
    future = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    admin_client.post(reverse("admin:posts_socialpost_add"), {
        **form, "scheduled_at_0": future.strftime("%Y-%m-%d"), "scheduled_at_1": future.strftime("%H:%M:%S")})
    post = SocialPost.objects.get()
    assert post.status == S.SCHEDULED  # the status flow: a post with a time is scheduled, not a draft with a date
