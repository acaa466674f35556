"""The composer in headless Chromium: a chosen file is not lost when another field is refused."""

import pytest
from django.urls import reverse

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import StaffFactory
from posts.models import SocialPost

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


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
    assert "flag.jpg" in page.inner_text("#attached-media")
    assert page.is_checked("#attached-media input[name=stored_media]")
    assert page.input_value("#id_content") == "Flag on the 9th"
    page.click("#save-draft")  # the file is not chosen again
    page.wait_for_selector("#post-status")
    post = SocialPost.objects.get()
    assert [url.rsplit("/", 1)[-1] for url in post.media_urls] == ["flag.jpg"]
    assert page.locator("a[href$='/flag.jpg']").count() == 1  # shown on the post
