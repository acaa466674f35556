"""The library page in headless Chromium, at phone width: upload, describe, remove."""

import pytest
from django.urls import reverse

from crm.tests.factories import StaffFactory
from library.models import MediaAsset
from library.tests import images

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_library_page_uploads_and_describes_at_phone_width(page, login, club, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    StaffFactory(tenant=club.tenant, user__username="pat")
    login("pat")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(reverse("library:list"))
    page.set_input_files("#id_file", files=[{"name": "crest.png", "mimeType": "image/png", "buffer": images.png()}])
    page.fill("#id_alt_text", "The club crest")
    page.click("#library-upload button[type=submit]")
    page.wait_for_selector("#library-grid")
    asset = MediaAsset.objects.get()
    assert page.get_attribute(f"#asset-{asset.pk} img", "alt") == "The club crest"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing runs off the side
    page.fill(f"#alt-{asset.pk}", "The club crest above the door")
    page.click(f"#asset-{asset.pk} button[type=submit]")
    page.wait_for_selector(".messages")
    asset.refresh_from_db()
    assert asset.alt_text == "The club crest above the door"
    page.click(f"#asset-{asset.pk} a.button")  # Remove: asks first
    page.click("#confirm-delete button.danger")
    page.wait_for_selector("#library-empty")
    assert not MediaAsset.objects.exists()
