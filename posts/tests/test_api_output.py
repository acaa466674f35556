"""The posts API's output is read cheaply (``socialcrm/api_output.py``) and is exactly DRF's own output."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import CampaignFactory, ClubFactory, StaffFactory
from posts.models import PublishErrorKind as K
from posts.models import SocialPost
from posts.models import SocialPostStatus as S
from posts.serializers import SocialPostSerializer
from posts.tests.factories import SocialPostFactory
from socialcrm.api_output import PlannedOutputMixin

LIST = "/api/v1/posts/"


def posts_in_every_state(tenant):
    club = ClubFactory(tenant=tenant)
    conn = SocialConnectionFactory(club=club, tenant=tenant, platform="TWITTER")
    now = timezone.now()
    campaign = CampaignFactory(tenant=tenant)
    return [
        SocialPostFactory(connection=conn, status=S.DRAFT),
        SocialPostFactory(connection=conn, status=S.SCHEDULED, scheduled_at=now + timedelta(days=1), campaign=campaign,
                          link_url="https://example.com/open-day", hashtags=["golf", "openday"]),
        SocialPostFactory(connection=conn, status=S.PUBLISHED, scheduled_at=now - timedelta(hours=3),
                          published_at=now - timedelta(hours=3, microseconds=-1500), platform_post_id="1234",
                          platform_url="https://x.com/i/status/1234", likes=4, reach=0, impressions=0,
                          metrics_unknown=["reach", "impressions"], engagement_synced_at=now),
        SocialPostFactory(connection=conn, status=S.FAILED, scheduled_at=now - timedelta(days=2), attempts=3,
                          error="The platform refused the same text twice.", error_kind=K.DUPLICATE,
                          next_attempt_at=now + timedelta(minutes=5), media_urls=["https://example.com/a.jpg"]),
        SocialPostFactory(connection=conn, status=S.FAILED, scheduled_at=now - timedelta(days=2), attempts=1,
                          error="Timed out.", error_kind=K.TRANSIENT),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["UTC", "Europe/London", "Australia/Adelaide"])
def test_planned_output_equals_drfs_for_every_state_and_timezone(tenant, zone):
    posts = posts_in_every_state(tenant)
    serializer = SocialPostSerializer()
    with timezone.override(zone):
        for post in SocialPost.objects.select_related("connection").filter(pk__in=[p.pk for p in posts]):
            planned = PlannedOutputMixin.to_representation(serializer, post)
            generic = serializers.ModelSerializer.to_representation(serializer, post)
            assert planned == generic
            assert list(planned) == list(generic)  # same keys, same order
            assert [type(v) for v in planned.values()] == [type(v) for v in generic.values()]


@pytest.mark.django_db
def test_a_missing_link_along_a_path_answers_as_drf_does(tenant):
    class CampaignName(PlannedOutputMixin, serializers.ModelSerializer):
        campaign_name = serializers.CharField(source="campaign.name", read_only=True, allow_null=True)

        class Meta:
            model = SocialPost
            fields = ["id", "campaign", "campaign_name"]

    with_campaign, without = posts_in_every_state(tenant)[1], posts_in_every_state(tenant)[0]
    serializer = CampaignName()
    for post in (with_campaign, without):
        assert (PlannedOutputMixin.to_representation(serializer, post)
                == serializers.ModelSerializer.to_representation(serializer, post))
    assert CampaignName(without).data["campaign_name"] is None
    assert CampaignName(with_campaign).data["campaign_name"] == with_campaign.campaign.name


@pytest.mark.django_db
def test_api_list_shows_unknown_metrics_as_null_and_actions_per_state(tenant):
    posts = posts_in_every_state(tenant)
    api = APIClient()
    api.force_authenticate(StaffFactory(tenant=tenant).user)
    rows = {row["id"]: row for row in api.get(LIST).json()["results"]}
    published, failed_duplicate, failed_transient = (rows[str(p.pk)] for p in posts[2:])
    assert published["reach"] is None and published["impressions"] is None and published["likes"] == 4
    assert published["platform"] == "TWITTER"
    assert "retry" not in failed_duplicate["actions"] and "retry" in failed_transient["actions"]
    for post in posts:
        assert rows[str(post.pk)] == api.get(f"{LIST}{post.pk}/").json()  # the list shows what the detail shows


@pytest.mark.django_db
def test_api_list_reads_only_the_columns_it_shows(tenant):
    posts_in_every_state(tenant)
    api = APIClient()
    api.force_authenticate(StaffFactory(tenant=tenant).user)
    with CaptureQueriesContext(connection) as captured:
        assert len(api.get(LIST).json()["results"]) == 5
    [page] = [q["sql"] for q in captured.captured_queries if "posts_socialpost" in q["sql"]]
    for unshown in ("publish_state", "claimed_at", "metrics_next_sync_at", "access_token", "account_details"):
        assert unshown not in page
    assert '"connections_socialconnection"."platform"' in page


@pytest.mark.django_db
def test_token_request_reads_token_user_membership_and_club_scope_in_one_query(tenant, django_assert_num_queries):
    posts_in_every_state(tenant)
    key = Token.objects.create(user=StaffFactory(tenant=tenant).user).key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    with django_assert_num_queries(2):  # the token with its user, membership and club scope; one page of posts
        assert len(api.get(LIST).json()["results"]) == 5


@pytest.mark.django_db
def test_token_request_of_club_limited_staff_sees_only_their_clubs(tenant):
    mine, theirs = ClubFactory(tenant=tenant), ClubFactory(tenant=tenant)
    visible = SocialPostFactory(connection=SocialConnectionFactory(club=mine, tenant=tenant))
    SocialPostFactory(connection=SocialConnectionFactory(club=theirs, tenant=tenant))
    key = Token.objects.create(user=StaffFactory(tenant=tenant, clubs=[mine]).user).key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert [row["id"] for row in api.get(LIST).json()["results"]] == [str(visible.pk)]
