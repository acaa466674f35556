"""One post for X and Instagram in headless Chromium: X gets its own text, Instagram alone an image chosen from
the media library with its description typed beside it; both previews, scheduled, and each network receiving
its own version at the simulator (Instagram with the alt text)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from crm.tests.factories import StaffFactory
from library.models import PostMedia
from library.services import media_upload
from library.tests import images
from posts.models import Composition
from posts.models import SocialPostStatus as S
from posts.publishing import posts_publish_due

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE = "Spring medal entries close on Friday at noon. Sign up at the pro shop or online."
X_TEXT = "Spring medal: entries close Friday noon"
ALT = "The flag on the 18th green, the clubhouse behind"


def test_an_instagram_only_library_image_with_alt_text_reaches_instagram_alone(page, login, club, connect, simulator,
                                                                              eager_celery, settings, tmp_path,
                                                                              live_server):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.SITE_URL = live_server.url  # Instagram fetches the image from the app, as it would in production
    StaffFactory(tenant=club.tenant, user__username="pat")
    x, ig = connect("twitter"), connect("instagram")
    asset, _ = media_upload(tenant=club.tenant, club=club, by=None,
                            upload=SimpleUploadedFile("flag.jpg", images.jpeg(1080, 1080), content_type="image/jpeg"))
    login("pat")
    page.goto("/posts/new/")
    page.check(f"input[name=connections][value='{x.pk}']")
    page.check(f"input[name=connections][value='{ig.pk}']")
    page.fill("#id_content", BASE)
    page.locator(f"#version-{x.pk} summary").click()
    page.fill(f"#v-{x.pk}-content", X_TEXT)
    # Instagram needs an image: until one is chosen its card names the rule and Schedule waits.
    page.locator(f"[data-preview-slot='{ig.pk}'] .violations").wait_for()
    assert page.is_disabled("#schedule")
    page.locator(f"#version-{ig.pk} summary").click()
    page.check(f"#v-{ig.pk}-library-picker input[name='v-{ig.pk}-library_media'][value='{asset.pk}']")
    page.fill(f"#v-{ig.pk}-alt_{asset.pk}", ALT)
    # Instagram's card shows the library image's thumbnail; X's card has no image and its own text.
    page.locator(f"[data-preview-slot='{ig.pk}'] .post-card-image img[src='{asset.thumbnail_path}']").wait_for()
    page.locator(f"[data-preview-slot='{x.pk}'] .post-card").filter(has_text=X_TEXT).wait_for()
    assert page.locator(f"[data-preview-slot='{x.pk}'] .post-card-image").count() == 0
    assert "Spring medal entries close" in page.inner_text(f"[data-preview-slot='{ig.pk}'] .post-card")
    assert page.locator(f"[data-preview-slot='{ig.pk}'] .violations").count() == 0
    local = (timezone.now() + timedelta(days=2)).astimezone(ZoneInfo(str(club.timezone)))
    page.fill("#id_scheduled_local", local.strftime("%Y-%m-%dT%H:%M"))
    page.click("#schedule")
    page.wait_for_selector("#composition-statuses")
    assert "Instagram: Scheduled" in page.inner_text("#composition-statuses")
    composition = Composition.objects.get()
    asset.refresh_from_db()
    assert asset.alt_text == ALT  # the description typed beside the image is the library image's
    ig_post, x_post = composition.versions.get(connection=ig), composition.versions.get(connection=x)
    assert list(PostMedia.objects.filter(post=ig_post).values_list("asset_id", flat=True)) == [asset.pk]
    assert x_post.media_urls == []
    posts_publish_due(now=max(v.scheduled_at for v in composition.versions.all()) + timedelta(seconds=1))
    assert {v.status for v in composition.versions.all()} == {S.PUBLISHED}, [v.error for v in composition.versions.all()]
    (tweet,) = simulator.published(platform="twitter")
    (gram,) = simulator.published(platform="instagram")
    assert tweet["text"] == X_TEXT and not tweet.get("media")
    assert gram["text"].startswith(BASE) and len(gram["media"]) == 1 and gram["alt_texts"] == [ALT]
