"""Facebook and Instagram as the real Graph API behaves: media that takes minutes to
process, insights that are refused, files Instagram does not take. Against the simulator."""

from datetime import timedelta

import pytest
from django.utils import timezone

from posts.metrics import posts_sync_metrics
from posts.models import PostMetricSnapshot, SocialPost
from posts.models import PublishErrorKind as K
from posts.models import SocialPostStatus as S
from posts.publishing import post_claim, post_publish
from posts.serializers import SocialPostSerializer
from posts.services import post_create

pytestmark = pytest.mark.django_db


def _publish_until_settled(post, simulator, *, step, limit=12):
    """Claim and publish like the scan does; between attempts the platform's clock moves on."""
    cycles = 0
    while True:
        now = timezone.now()
        SocialPost.objects.filter(pk=post.pk, status=S.SCHEDULED).update(next_attempt_at=now)
        claimed = post_claim(post_id=post.pk, now=now)
        assert claimed
        post_publish(post_id=post.pk, claimed_at=claimed)
        post.refresh_from_db()
        if post.status != S.SCHEDULED or post.error_kind != K.PROCESSING:
            return post, cycles
        cycles += 1
        assert cycles < limit and post.next_attempt_at > now
        simulator.advance_clock(step)


@pytest.mark.parametrize("slug,platform,seconds", [("instagram", "instagram", 90), ("facebook", "facebook", 90)])
def test_a_video_taking_90_seconds_publishes_exactly_once(connect, simulator, settings, slug, platform, seconds):
    settings.MEDIA_PROCESSING_WAIT_IN_CALL = 0.3
    simulator.set_processing(platform, seconds=seconds)
    connection = connect(slug)
    post = post_create(tenant=connection.tenant, connection=connection, content="Lesson of the week",
                       media_urls=[simulator.video_url()], created_by="alex", scheduled_at=timezone.now())
    post, cycles = _publish_until_settled(post, simulator, step=20)
    assert post.status == S.PUBLISHED, post.error
    assert cycles >= 3 and post.attempts == 1  # waiting on processing never spends an attempt
    assert post.publish_state == {}
    uploads = [r for r in simulator.requests(platform=platform) if r["method"] == "POST"
               and r["path"].endswith("/media" if platform == "instagram" else "/videos")]
    assert len(uploads) == 1
    assert [p["post_id"] for p in simulator.published(platform=platform)] == [post.platform_post_id]


def test_a_waiting_post_keeps_its_container_in_the_database(connect, simulator, settings):
    settings.MEDIA_PROCESSING_WAIT_IN_CALL = 0.2
    simulator.set_processing("instagram", seconds=600)
    connection = connect("instagram")
    post = post_create(tenant=connection.tenant, connection=connection, content="Reel", created_by="alex",
                       media_urls=[simulator.video_url()], scheduled_at=timezone.now())
    claimed = post_claim(post_id=post.pk, now=timezone.now())
    post_publish(post_id=post.pk, claimed_at=claimed)
    post.refresh_from_db()
    assert post.status == S.SCHEDULED and post.error_kind == K.PROCESSING and post.attempts == 0
    assert post.publish_state["container"] and post.publish_state["waiting"]["polls"] >= 1


def _published(connect, simulator, slug, count=1):
    connection = connect(slug)
    posts = []
    for n in range(count):
        post = post_create(tenant=connection.tenant, connection=connection, content=f"News {n}", created_by="alex",
                           media_urls=[simulator.media_url()] if slug == "instagram" else [],
                           scheduled_at=timezone.now())
        claimed = post_claim(post_id=post.pk, now=timezone.now())
        post_publish(post_id=post.pk, claimed_at=claimed)
        post.refresh_from_db()
        assert post.status == S.PUBLISHED
        posts.append(post)
    return connection, posts


def _sync(post, hours):
    """Make the post due on the cadence (its last sync, if any, long ago) and run the sync."""
    SocialPost.objects.filter(pk=post.pk).update(published_at=timezone.now() - timedelta(hours=hours),
                                                 metrics_next_sync_at=timezone.now())
    SocialPost.objects.filter(pk=post.pk, engagement_synced_at__isnull=False).update(
        engagement_synced_at=timezone.now() - timedelta(days=30))
    return posts_sync_metrics()


def test_refused_insights_never_overwrite_a_known_reach(connect, simulator):
    connection, (post,) = _published(connect, simulator, "facebook")
    simulator.advance_clock(3600)
    simulator.set_metrics(post.platform_post_id, reach=50, impressions=80, likes=9)
    _sync(post, 1)
    post.refresh_from_db()
    assert (post.reach, post.impressions, post.likes) == (50, 80, 9) and post.metrics_unknown == []
    simulator.inject("facebook", "GET /v25.0/", "permission")  # the batched read with insights is refused
    simulator.set_metrics(post.platform_post_id, likes=11)
    _sync(post, 1)
    post.refresh_from_db()
    assert (post.reach, post.impressions, post.likes) == (50, 80, 11)
    last = PostMetricSnapshot.objects.filter(post=post).latest("taken_at")
    assert sorted(last.unknown) == ["impressions", "reach"] and last.likes == 11
    assert SocialPostSerializer(post).data["reach"] == 50


def test_a_metric_never_known_is_null_not_zero(connect, simulator):
    connection, (post,) = _published(connect, simulator, "facebook")
    simulator.advance_clock(3600)
    simulator.inject("facebook", "GET /v25.0/", "permission")
    _sync(post, 1)
    post.refresh_from_db()
    assert sorted(post.metrics_unknown) == ["impressions", "reach"] and post.likes > 0
    data = SocialPostSerializer(post).data
    assert data["reach"] is None and data["impressions"] is None and data["likes"] == post.likes


def test_one_instagram_media_refused_with_code_10_leaves_the_others_their_values(connect, simulator):
    connection, posts = _published(connect, simulator, "instagram", count=3)
    simulator.advance_clock(3600)
    simulator.set_metrics(posts[1].platform_post_id, reach=3, impressions=4)
    for post in posts:
        SocialPost.objects.filter(pk=post.pk).update(published_at=timezone.now() - timedelta(hours=1))
    posts_sync_metrics()
    for post in posts:
        post.refresh_from_db()
    assert posts[0].reach > 0 and posts[2].reach > 0 and posts[0].impressions > 0
    assert posts[1].likes > 0 and sorted(posts[1].metrics_unknown) == ["impressions", "reach", "shares"]


def test_detail_page_says_not_available_for_an_unknown_metric(client, staff_user, club):
    from connections.tests.factories import SocialConnectionFactory
    from posts.tests.factories import SocialPostFactory

    connection = SocialConnectionFactory(club=club, tenant=club.tenant)
    post = SocialPostFactory(connection=connection, status=S.PUBLISHED, reach=0, likes=4,
                             metrics_unknown=["reach"], engagement_synced_at=timezone.now())
    client.force_login(staff_user)
    page = client.get(f"/posts/{post.pk}/").content.decode()
    assert '<dd id="m-reach"><span class="muted"' in page and "not available" in page
    assert '<dd id="m-likes">4</dd>' in page


def _stored_jpeg(settings, tmp_path, width, height):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from crm.tests.factories import TenantFactory
    from posts.services import media_store

    settings.MEDIA_ROOT = str(tmp_path)
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 200, 200)).save(out, "JPEG")
    return media_store(upload=SimpleUploadedFile("pic.jpg", out.getvalue()), tenant=TenantFactory())


def test_instagram_refuses_an_uploaded_image_outside_4_5_to_1_91_1_at_compose_time(settings, tmp_path):
    from platforms import PostContent
    from posts.services import content_violations

    wide = _stored_jpeg(settings, tmp_path, 1000, 400)
    square = _stored_jpeg(settings, tmp_path, 800, 800)
    refused = content_violations(platform="INSTAGRAM", content=PostContent(text="x", media_urls=[wide]))
    assert any("4:5" in v.message and "1000×400" in v.message for v in refused)
    assert content_violations(platform="INSTAGRAM", content=PostContent(text="x", media_urls=[square])) == []
    assert content_violations(platform="FACEBOOK", content=PostContent(text="x", media_urls=[wide])) == []


def test_instagram_refuses_an_uploaded_video_too_short_for_a_reel(settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from crm.tests.factories import TenantFactory
    from platforms import PostContent
    from posts.services import content_violations, media_store
    from simulator.media import tiny_mp4

    settings.MEDIA_ROOT = str(tmp_path)
    short = media_store(upload=SimpleUploadedFile("clip.mp4", tiny_mp4(seconds=2)), tenant=TenantFactory())
    fine = media_store(upload=SimpleUploadedFile("clip.mp4", tiny_mp4(seconds=30)), tenant=TenantFactory())
    refused = content_violations(platform="INSTAGRAM", content=PostContent(text="x", media_urls=[short]))
    assert any("3 seconds" in v.message and "2 s" in v.message for v in refused)
    assert content_violations(platform="INSTAGRAM", content=PostContent(text="x", media_urls=[fine])) == []


def test_an_image_not_ready_at_once_frees_the_worker_and_resumes_on_its_container(connect, simulator, settings,
                                                                                monkeypatch):
    """In a rush, a publishing worker never sleeps on an Instagram image container: the post goes back to
    the queue for a second, the next attempt polls the same container and publishes it, and the media
    file is checked once, before the platform took it."""
    import time

    from posts import publishing

    settings.MEDIA_PROCESSING_POLL_INTERVAL = 5.0  # the product's defaults: an image is polled again after 1 s
    settings.MEDIA_PROCESSING_IMAGE_POLL_INTERVAL = 1.0
    settings.MEDIA_PROCESSING_IMAGE_WAIT_IN_CALL = 0.0
    checked = []
    real_check = publishing.media_check
    monkeypatch.setattr(publishing, "media_check", lambda urls: checked.append(list(urls)) or real_check(urls))
    connection = connect("instagram")
    post = post_create(tenant=connection.tenant, connection=connection, content="Course open at nine",
                       created_by="alex", media_urls=[simulator.media_url()], scheduled_at=timezone.now())
    claimed = post_claim(post_id=post.pk, now=timezone.now())
    started = time.monotonic()
    post_publish(post_id=post.pk, claimed_at=claimed)
    assert time.monotonic() - started < 0.9  # the container was polled once, not waited for
    post.refresh_from_db()
    assert post.status == S.SCHEDULED and post.error_kind == K.PROCESSING and post.attempts == 0
    assert post.publish_state["container"]
    assert timedelta(seconds=0.5) < post.next_attempt_at - claimed <= timedelta(seconds=1.5)

    post, cycles = _publish_until_settled(post, simulator, step=1)
    assert post.status == S.PUBLISHED and cycles == 0, post.error
    containers = [r for r in simulator.requests(platform="instagram") if r["method"] == "POST"
                  and r["path"].endswith("/media")]
    assert len(containers) == 1
    assert [p["post_id"] for p in simulator.published(platform="instagram")] == [post.platform_post_id]
    assert checked == [[simulator.media_url()]]


def test_a_one_shot_publish_still_waits_for_its_image(connect, simulator, settings):
    """Callers that cannot resume (no saved progress) wait in the call as before."""
    from connections.services import connection_credentials
    from platforms import PostContent, get_adapter

    settings.MEDIA_PROCESSING_IMAGE_POLL_INTERVAL = 0.1
    settings.MEDIA_PROCESSING_IMAGE_WAIT_IN_CALL = 0.0
    connection = connect("instagram")
    result = get_adapter(connection.platform).publish(
        credentials=connection_credentials(connection=connection),
        content=PostContent(text="Results are in", media_urls=[simulator.media_url()]))
    assert [p["post_id"] for p in simulator.published(platform="instagram")] == [result.platform_post_id]
