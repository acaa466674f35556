"""LinkedIn through the publisher: media LinkedIn is still processing, and video in parts."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from posts.models import PublishErrorKind as K
from posts.models import SocialPostStatus as S
from posts.publishing import posts_publish_due
from posts.services import media_store, post_create

pytestmark = pytest.mark.django_db

MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4


@pytest.fixture
def run_scan(django_capture_on_commit_callbacks, eager_celery, settings):
    settings.LINKEDIN_MEDIA_POLL_SECONDS = 0.1

    def _scan(now=None):
        with django_capture_on_commit_callbacks(execute=True):
            return posts_publish_due(now=now)
    return _scan


def due(connection, text, **kw):
    return post_create(tenant=connection.tenant, connection=connection, content=text, created_by="alex",
                       scheduled_at=timezone.now(), **kw)


def uploads(simulator):
    return [r for r in simulator.requests(platform="linkedin")
            if (r["method"], r["path"]) in (("POST", "/rest/images"), ("POST", "/rest/videos"))
            and r["query"].get("action") == "initializeUpload"]


def test_an_image_still_processing_is_waited_for_and_posted_once(connect, simulator, run_scan):
    simulator.linkedin_config(processing_seconds=0.5)
    post = due(connect("linkedin"), "Greens reopen", media_urls=[simulator.media_url()])
    run_scan()
    post.refresh_from_db()
    assert post.status == S.PUBLISHED, post.error
    assert post.publish_state == {}
    posts = [r for r in simulator.requests(platform="linkedin") if (r["method"], r["path"]) == ("POST", "/rest/posts")]
    assert len(posts) == 1 and len(simulator.published(platform="linkedin")) == 1


def test_media_processing_longer_reschedules_the_post_and_reuses_the_upload(connect, simulator, run_scan, settings):
    simulator.linkedin_config(processing_seconds=600)
    settings.LINKEDIN_MEDIA_WAIT_SECONDS = 0.3
    post = due(connect("linkedin"), "Course map", media_urls=[simulator.media_url()])
    run_scan()
    post.refresh_from_db()
    assert post.status == S.SCHEDULED and post.error_kind == K.PROCESSING, post.error
    assert post.attempts == 0 and post.next_attempt_at > timezone.now()
    (asset,) = post.publish_state["linkedin_media"]["assets"].values()
    assert simulator.published(platform="linkedin") == [] and len(uploads(simulator)) == 1
    simulator.advance_clock(600)
    run_scan(now=post.next_attempt_at + timedelta(seconds=1))
    post.refresh_from_db()
    assert post.status == S.PUBLISHED, post.error
    assert len(uploads(simulator)) == 1  # the image uploaded by the first attempt was used
    (published,) = simulator.published(platform="linkedin")
    assert published["media"] == [asset["urn"]] and post.publish_state == {}


def test_a_stored_video_publishes_through_the_multi_part_upload(connect, simulator, run_scan, settings, tmp_path,
                                                                club):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.SITE_URL = "http://127.0.0.1:9"
    simulator.linkedin_config(processing_seconds=0.3, video_part_size=300)
    video = media_store(upload=SimpleUploadedFile("clinic.mp4", MP4, content_type="video/mp4"), tenant=club.tenant)
    post = due(connect("linkedin"), "Swing clinic highlights", media_urls=[video])
    run_scan()
    post.refresh_from_db()
    assert post.status == S.PUBLISHED, post.error
    parts = [r for r in simulator.requests(platform="linkedin") if r["method"] == "PUT"]
    assert len(parts) == 4
    (published,) = simulator.published(platform="linkedin")
    assert published["media"][0].startswith("urn:li:video:") and published["post_id"] == post.platform_post_id
