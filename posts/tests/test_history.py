"""History of posts: one entry per action, with who did it ("system" for the publisher), shown to admins."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from crm.history import history_entries
from crm.models import StaffRole
from crm.tests.factories import StaffFactory
from posts.publishing import posts_publish_due
from posts.services import (
    post_approve,
    post_cancel,
    post_create,
    post_delete,
    post_schedule,
    post_submit,
    post_update,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(club):
    return {
        "anna": StaffFactory(tenant=club.tenant, role=StaffRole.ADMIN, user__username="anna",
                             user__first_name="Anna", user__last_name="Berg").user,
        "sam": StaffFactory(tenant=club.tenant, user__username="sam").user,
    }


def sentences(row):
    return [e.sentence for e in reversed(history_entries(instance=row))]


def test_every_action_on_a_post_is_recorded_with_its_actor(connect, club, people, eager_celery,
                                                            django_capture_on_commit_callbacks):
    club.tenant.posts_need_approval = True
    club.tenant.save()
    connection = connect("twitter")
    sam, anna = people["sam"], people["anna"]
    post = post_create(tenant=club.tenant, connection=connection, content="Greens are fast", created_by=sam)
    post_update(post=post, by=sam, content="Greens are very fast")
    post_submit(post=post, by=sam)
    post_approve(post=post, by=anna)
    post_schedule(post=post, at=timezone.now() + timedelta(hours=1), by=sam)
    post_cancel(post=post, by=anna)
    post_schedule(post=post, at=timezone.now(), by=anna)
    with django_capture_on_commit_callbacks(execute=True):
        posts_publish_due(now=timezone.now() + timedelta(seconds=1))
    post.refresh_from_db()
    assert post.status == "PUBLISHED"
    assert sentences(post) == [
        "sam created it", "sam edited it", "sam submitted it for approval", "Anna Berg approved it",
        "sam scheduled it", "Anna Berg cancelled it", "Anna Berg scheduled it", "system published it",
    ]
    user_ids = list(post.history.order_by("history_date").values_list("history_user_id", flat=True))
    assert user_ids == [sam.pk, sam.pk, sam.pk, anna.pk, sam.pk, anna.pk, anna.pk, None]


def test_deleting_a_post_is_recorded(club, people):
    from connections.tests.factories import SocialConnectionFactory

    connection = SocialConnectionFactory(club=club, tenant=club.tenant)
    post = post_create(tenant=club.tenant, connection=connection, content="Bye", created_by=people["sam"])
    model, pk = type(post).history.model, post.pk
    post_delete(post=post, by=people["anna"])
    last = model.objects.filter(id=pk).order_by("-history_date").first()
    assert (last.history_type, last.history_actor, last.history_user_id) == ("-", "Anna Berg", people["anna"].pk)


def test_a_page_edit_is_attributed_to_the_signed_in_user(client, club, people):
    from connections.tests.factories import SocialConnectionFactory

    connection = SocialConnectionFactory(club=club, tenant=club.tenant)
    post = post_create(tenant=club.tenant, connection=connection, content="First", created_by="alex")
    client.force_login(people["sam"])
    client.post(reverse("posts:action", args=[post.pk]), {"action": "edit", "content": "Second"})
    assert sentences(post)[-1] == "sam edited it"


def test_history_is_for_admins_on_the_page_and_the_api(client, club, people):
    from connections.tests.factories import SocialConnectionFactory

    connection = SocialConnectionFactory(club=club, tenant=club.tenant)
    post = post_create(tenant=club.tenant, connection=connection, content="Hi", created_by=people["sam"])
    post_schedule(post=post, at=timezone.now() + timedelta(days=1), by=people["anna"])
    client.force_login(people["anna"])
    page = client.get(reverse("posts:detail", args=[post.pk])).content.decode()
    assert 'id="history"' in page and "Anna Berg scheduled it, " in page
    client.force_login(people["sam"])
    assert 'id="history"' not in client.get(reverse("posts:detail", args=[post.pk])).content.decode()

    url = reverse("post-history", args=[post.pk])
    api = APIClient()
    api.force_authenticate(people["sam"])
    assert api.get(url).status_code == 403
    api.force_authenticate(people["anna"])
    body = api.get(url).json()
    assert [(e["actor"], e["action"]) for e in body] == [("Anna Berg", "scheduled it"), ("sam", "created it")]
    assert body[0]["sentence"] == "Anna Berg scheduled it"
    foreign = StaffFactory(role=StaffRole.ADMIN).user
    api.force_authenticate(foreign)
    assert api.get(url).status_code == 404


def test_a_post_that_missed_its_time_is_recorded_as_the_systems_doing(club, people, settings):
    from connections.tests.factories import SocialConnectionFactory

    connection = SocialConnectionFactory(club=club, tenant=club.tenant)
    post = post_create(tenant=club.tenant, connection=connection, content="Late", created_by=people["sam"],
                       scheduled_at=timezone.now())
    posts_publish_due(now=timezone.now() + timedelta(seconds=settings.PUBLISH_MISSED_WINDOW_SECONDS + 60))
    post.refresh_from_db()
    assert post.status == "FAILED"
    assert sentences(post) == ["sam created it", "system could not publish it: missed its time"]
    assert post.history.first().history_user_id is None
