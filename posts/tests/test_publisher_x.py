"""X through the publisher: a post X rewrote is found after a timeout, daily caps, GIF and video."""

import io
import re
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from posts.metrics import posts_sync_metrics
from posts.models import PublishErrorKind as K
from posts.models import SocialPostStatus as S
from posts.publishing import posts_publish_due
from posts.services import media_store, post_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_scan(django_capture_on_commit_callbacks, eager_celery):
    def _scan(now=None):
        with django_capture_on_commit_callbacks(execute=True):
            return posts_publish_due(now=now)
    return _scan


def due(connection, text="Course open at 7am", **kw):
    return post_create(tenant=connection.tenant, connection=connection, content=text, created_by="alex",
                       scheduled_at=timezone.now(), **kw)


def test_timeout_after_x_accepted_a_post_with_a_link_and_ampersand_ends_published_once(
        connect, simulator, run_scan, settings):
    settings.PLATFORM_HTTP_TIMEOUT = 0.5
    post = due(connect("twitter"), text="Open day & BBQ <members> — details at pinewoodgolf.com/day.",
               link_url="https://www.pinewoodgolf.com/open-day?ref=x&y=1", hashtags=["golf"])
    simulator.inject("twitter", "POST /2/tweets", "timeout", delay=1.5)
    run_scan()
    post.refresh_from_db()
    assert post.status == S.SCHEDULED and post.error_kind == K.TRANSIENT
    time.sleep(1.5)  # X finishes creating the tweet after we gave up
    (tweet,) = simulator.published(platform="twitter")
    assert "https://t.co/" in tweet["stored_text"] and "&amp;" in tweet["stored_text"]
    run_scan(now=post.next_attempt_at + timedelta(seconds=1))
    post.refresh_from_db()
    assert post.status == S.PUBLISHED, post.error
    assert post.platform_post_id == tweet["post_id"]
    assert len(simulator.published(platform="twitter")) == 1


def test_daily_cap_past_the_publish_window_fails_with_the_limit_and_metrics_still_sync(
        connect, simulator, run_scan):
    x = connect("twitter")
    first = due(x, text="Greens re-opened")
    run_scan()
    first.refresh_from_db()
    assert first.status == S.PUBLISHED
    simulator.configure_x(user_24h_limit=1)
    capped = due(x, text="Tee times for Saturday")
    run_scan()
    capped.refresh_from_db()
    assert capped.status == S.FAILED and capped.error_kind == K.RATE_LIMITED
    assert re.fullmatch(r"X's daily posting limit for this account is reached until (\d\d \w\w\w )?\d\d:\d\d UTC\.",
                        capped.error), capped.error
    # the posting cap does not pause reading metrics for the same account
    summary = posts_sync_metrics(now=timezone.now() + timedelta(hours=1, minutes=1))
    assert summary["synced"] == 1 and summary["slowed"] == 0


def test_daily_cap_within_the_publish_window_is_retried_at_its_reset(connect, simulator, run_scan, settings):
    settings.PUBLISH_MISSED_WINDOW_SECONDS = 48 * 3600
    x = connect("twitter")
    due(x, text="Greens re-opened")
    run_scan()
    simulator.configure_x(user_24h_limit=1)
    capped = due(x, text="Tee times for Saturday")
    run_scan()
    capped.refresh_from_db()
    assert capped.status == S.SCHEDULED and capped.error_kind == K.RATE_LIMITED
    wait = capped.next_attempt_at - timezone.now()
    assert timedelta(hours=23, minutes=50) < wait < timedelta(hours=24, minutes=1)


def test_a_15_minute_429_on_posting_does_not_pause_metrics(connect, simulator, run_scan):
    x = connect("twitter")
    first = due(x, text="Greens re-opened")
    run_scan()
    simulator.inject("twitter", "POST /2/tweets", "rate_limit", reset_after=600)
    limited = due(x, text="Tee times for Saturday")
    run_scan()
    limited.refresh_from_db()
    assert limited.status == S.SCHEDULED and limited.error_kind == K.RATE_LIMITED
    summary = posts_sync_metrics(now=timezone.now() + timedelta(hours=1, minutes=1))
    assert (summary["synced"], summary["slowed"], summary["failed"]) == (1, 0, 0)
    first.refresh_from_db()
    assert first.engagement_synced_at is not None


# ---------------------------------------------------------------------------- GIF and video


@pytest.fixture
def storage(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.SITE_URL = "http://127.0.0.1:9"  # stored files are read from storage, never over HTTP
    return tmp_path


def animated_gif():
    from PIL import Image

    frames = [Image.new("P", (4, 4), color) for color in (1, 2, 3)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


@pytest.mark.parametrize("name,kind,body", [
    ("swing.gif", "image/gif", animated_gif),
    ("swing.mp4", "video/mp4", lambda: b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(200)),
])
def test_gif_and_video_posts_publish_on_x_after_processing(connect, simulator, run_scan, storage, club, settings,
                                                           name, kind, body):
    simulator.configure_x(processing_seconds=0.3, chunk_max_bytes=64)
    settings.X_MEDIA_CHUNK_BYTES = 64
    url = media_store(upload=SimpleUploadedFile(name, body(), content_type=kind), tenant=club.tenant)
    post = due(connect("twitter"), text="Watch the swing", media_urls=[url])
    run_scan()
    post.refresh_from_db()
    assert post.status == S.PUBLISHED, post.error
    (tweet,) = simulator.published(platform="twitter")
    assert len(tweet["media"]) == 1
    paths = [r["path"] for r in simulator.requests(platform="twitter")]
    assert "/2/media/upload/initialize" in paths and "/2/media/upload" not in [
        r["path"] for r in simulator.requests(platform="twitter") if r["method"] == "POST"]


def test_an_image_over_5_mb_is_refused_for_x_when_composing(connect, storage, club, settings):
    settings.MEDIA_MAX_BYTES = {"image": 8 * 1024 * 1024, "video": 100 * 1024 * 1024}
    big = b"\xff\xd8\xff\xe0" + bytes(5 * 1024 * 1024 + 10)
    url = media_store(upload=SimpleUploadedFile("big.jpg", big, content_type="image/jpeg"), tenant=club.tenant)
    with pytest.raises(ValidationError) as caught:
        due(connect("twitter"), text="Big photo", media_urls=[url])
    assert caught.value.message_dict["media_urls"] == [
        "X (Twitter) takes images of at most 5 MB; big.jpg is larger."]


def test_a_gif_over_15_mb_is_refused_for_x_when_composing(connect, storage, club, settings):
    settings.MEDIA_MAX_BYTES = {"image": 20 * 1024 * 1024, "video": 100 * 1024 * 1024}
    big = b"GIF89a" + bytes(15 * 1024 * 1024 + 10)
    url = media_store(upload=SimpleUploadedFile("big.gif", big, content_type="image/gif"), tenant=club.tenant)
    with pytest.raises(ValidationError) as caught:
        due(connect("twitter"), text="Big GIF", media_urls=[url])
    assert "X (Twitter) takes GIFs of at most 15 MB" in caught.value.message_dict["media_urls"][0]
