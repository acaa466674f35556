"""Library images published with their descriptions: each platform receives the alt text (at the simulator)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from library.services import media_describe, media_upload
from library.tests import images
from posts.models import SocialPostStatus as S
from posts.publishing import posts_publish_due
from posts.services import post_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def library_site(settings, tmp_path, live_server):
    """Stored images served by the app itself, where the simulated platforms fetch them."""
    settings.MEDIA_ROOT = str(tmp_path)
    settings.SITE_URL = live_server.url
    return live_server


@pytest.mark.parametrize("slug", ["twitter", "facebook", "instagram", "linkedin"])
def test_each_platform_receives_each_images_description(connect, simulator, eager_celery, library_site, club, slug,
                                                         django_capture_on_commit_callbacks):
    connection = connect(slug)
    described, _ = media_upload(tenant=club.tenant, club=club, by=None, alt_text="Flag on the 18th green",
                                upload=SimpleUploadedFile("flag.png", images.png(800, 1000, transparent=False)))
    second, _ = media_upload(tenant=club.tenant, club=None, by=None,
                             upload=SimpleUploadedFile("range.jpg", images.jpeg(1000, 1000)))
    media_describe(asset=second, alt_text="Juniors on the driving range")
    post_create(tenant=club.tenant, connection=connection, content=f"Club news for {slug}", created_by="alex",
                media_urls=[described.url, second.url], scheduled_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        posts_publish_due()
    post = connection.posts.get()
    assert post.status == S.PUBLISHED, post.error
    (published,) = simulator.published(platform=slug)
    assert published["alt_texts"] == ["Flag on the 18th green", "Juniors on the driving range"]
