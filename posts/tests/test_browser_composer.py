"""The composer in headless Chromium: a chosen file is not lost when another field is refused."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import StaffFactory
from library.models import MediaAsset
from library.services import media_upload
from library.tests import images
from posts.models import SocialPost
from posts.models import SocialPostStatus as S
from posts.publishing import posts_publish_due

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JPEG = images.jpeg(640, 800)


def test_chosen_file_survives_a_refused_field_and_goes_out_with_the_fixed_post(page, login, club, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    StaffFactory(tenant=club.tenant, user__username="pat")
    x = SocialConnectionFactory(club=club, tenant=club.tenant, platform="TWITTER", account_name="Pinewood X")
    login("pat")
    page.goto(reverse("posts:compose"))
    page.check(f"input[name=connections][value='{x.pk}']")
    page.fill("#id_content", "Flag on the 9th")
    page.set_input_files("#id_media", files=[{"name": "flag.jpg", "mimeType": "image/jpeg", "buffer": JPEG}])
    page.click("#schedule")  # no publish time chosen: refused
    page.wait_for_selector("#compose-errors")
    assert "Choose the date and time" in page.inner_text("#compose-errors")
    # The image went into the media library and comes back chosen there.
    assert "flag.jpg" in page.inner_text("#library-picker")
    assert page.is_checked("#library-picker input[name=library_media]")
    assert page.input_value("#id_content") == "Flag on the 9th"
    page.click("#save-draft")  # the file is not chosen again
    page.wait_for_selector("#post-status")
    post = SocialPost.objects.get()
    assert [url.rsplit("/", 1)[-1] for url in post.media_urls] == ["flag.jpg"]
    assert page.locator("a[href$='/flag.jpg']").count() == 1  # shown on the post


def test_an_image_chosen_in_the_composer_reaches_instagram_with_its_description(
        page, login, club, settings, tmp_path, live_server, connect, simulator, eager_celery):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.SITE_URL = live_server.url  # where the simulated Instagram fetches the image
    StaffFactory(tenant=club.tenant, user__username="pat")
    instagram = connect("instagram")
    asset, _ = media_upload(tenant=club.tenant, club=club, by=None,
                            upload=SimpleUploadedFile("medal.png", images.png(800, 1000, transparent=False)))
    login("pat")
    page.goto(reverse("posts:compose"))
    page.check(f"input[name=connections][value='{instagram.pk}']")
    page.fill("#id_content", "The spring medal trophy is here")
    page.check(f"#library-picker input[value='{asset.pk}']")
    page.fill(f"#alt_{asset.pk}", "A silver trophy on the clubhouse table")
    page.click("#publish-now")
    page.wait_for_selector("#post-status")
    post = SocialPost.objects.get()
    assert post.media_urls == [asset.url]
    posts_publish_due()
    post.refresh_from_db()
    assert post.status == S.PUBLISHED, post.error
    (published,) = simulator.published(platform="instagram")
    assert published["alt_texts"] == ["A silver trophy on the clubhouse table"]
    assert MediaAsset.objects.get().alt_text == "A silver trophy on the clubhouse table"
