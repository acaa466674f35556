from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import CampaignFactory, ClubFactory
from posts.models import SocialPostStatus as S
from posts.services import post_cancel, post_create, post_schedule

pytestmark = pytest.mark.django_db


def test_create_draft_and_scheduled():
    connection = SocialConnectionFactory()
    draft = post_create(tenant=connection.tenant, connection=connection, content="Hello", created_by="alex")
    assert draft.status == S.DRAFT and draft.scheduled_at is None
    at = timezone.now() + timedelta(hours=2)
    scheduled = post_create(tenant=connection.tenant, connection=connection, content="Hi", scheduled_at=at,
                            hashtags=["golf", "#club"], created_by="alex")
    assert scheduled.status == S.SCHEDULED and scheduled.scheduled_at == at
    assert scheduled.hashtags == ["golf", "#club"]


def test_over_length_x_post_names_platform_and_limit():
    connection = SocialConnectionFactory(platform="TWITTER", account_type="profile")
    with pytest.raises(ValidationError) as caught:
        post_create(tenant=connection.tenant, connection=connection, content="é" * 281, created_by="alex")
    (message,) = caught.value.message_dict["content"]
    assert "X (Twitter)" in message and "280" in message


def test_instagram_collects_every_violation():
    connection = SocialConnectionFactory(platform="INSTAGRAM", account_type="business")
    tags = [f"tag{n}" for n in range(31)]
    with pytest.raises(ValidationError) as caught:
        post_create(tenant=connection.tenant, connection=connection, content="x", hashtags=tags, created_by="a")
    messages = caught.value.messages
    assert any("30 hashtags" in m for m in messages) and any("image or video" in m for m in messages)
    assert all("Instagram" in m for m in messages)


def test_other_tenants_connection_and_campaign_are_not_found():
    connection = SocialConnectionFactory()
    other = SocialConnectionFactory()
    with pytest.raises(ValidationError) as caught:
        post_create(tenant=connection.tenant, connection=other, content="x", created_by="a")
    assert caught.value.message_dict == {"connection": ["Connection not found."]}
    with pytest.raises(ValidationError) as caught:
        post_create(tenant=connection.tenant, connection=connection, content="x", created_by="a",
                    campaign=CampaignFactory(tenant=other.tenant))
    assert caught.value.message_dict == {"campaign": ["Campaign not found."]}


def test_inactive_connection_is_refused():
    connection = SocialConnectionFactory(is_active=False)
    with pytest.raises(ValidationError, match="needs reconnecting"):
        post_create(tenant=connection.tenant, connection=connection, content="x", created_by="a")


def test_past_time_refused_but_within_a_minute_is_fine():
    connection = SocialConnectionFactory()
    with pytest.raises(ValidationError, match="past"):
        post_create(tenant=connection.tenant, connection=connection, content="x", created_by="a",
                    scheduled_at=timezone.now() - timedelta(minutes=5))
    post = post_create(tenant=connection.tenant, connection=connection, content="x", created_by="a",
                       scheduled_at=timezone.now() - timedelta(seconds=30))
    assert post.status == S.SCHEDULED


def test_schedule_then_cancel():
    connection = SocialConnectionFactory(club=ClubFactory())
    post = post_create(tenant=connection.tenant, connection=connection, content="x", created_by="a")
    at = timezone.now() + timedelta(days=1)
    post_schedule(post=post, at=at, by="a")
    post.refresh_from_db()
    assert post.status == S.SCHEDULED and post.scheduled_at == at
    post_cancel(post=post, by="a")
    post.refresh_from_db()
    assert post.status == S.DRAFT
