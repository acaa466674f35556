"""The library page: the grid, uploads, descriptions, removal only when unused, scoped to the user's clubs."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import ClubFactory, StaffFactory
from library.models import MediaAsset
from library.tests import images
from library.tests.factories import MediaAssetFactory
from posts.services import post_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, club):
    user = StaffFactory(tenant=club.tenant).user
    client.force_login(user)
    return client


def test_the_grid_shows_each_images_facts_and_use(staff, club, media_root):
    used = MediaAssetFactory(club=club, original_name="flag.jpg", alt_text="Flag on the 18th green")
    MediaAssetFactory(club=None, tenant=club.tenant, original_name="crest.jpg", alt_text="")
    post_create(tenant=club.tenant, connection=SocialConnectionFactory(club=club), content="Open day",
                created_by="alex", media_urls=[used.url])
    MediaAssetFactory(original_name="elsewhere.jpg")  # another tenant's
    page = staff.get(reverse("library:list")).content.decode()
    assert "flag.jpg" in page and "crest.jpg" in page and "elsewhere.jpg" not in page
    assert "640 × 800 px" in page and "1 post" in page and "No description yet" in page
    assert 'alt="Flag on the 18th green"' in page
    assert reverse("library:delete", args=[used.pk]) not in page  # used: no remove link


def test_upload_from_the_page(staff, club, media_root):
    response = staff.post(reverse("library:list"), {
        "file": [SimpleUploadedFile("a.png", images.png()), SimpleUploadedFile("notes.txt", b"words")],
        "club": club.pk, "alt_text": "Club crest"}, follow=True)
    page = response.content.decode()
    assert "1 image in the library." in page and "“notes.txt” is not an image" in page
    asset = MediaAsset.objects.get()
    assert asset.club == club and asset.alt_text == "Club crest" and asset.content_type == "image/jpeg"


def test_club_limited_staff_cannot_upload_for_everyone_or_another_club(client, club, media_root):
    client.force_login(StaffFactory(tenant=club.tenant, clubs=[club]).user)
    for chosen in ("", ClubFactory(tenant=club.tenant).pk):
        page = client.post(reverse("library:list"), {"file": SimpleUploadedFile("a.png", images.png()),
                                                     "club": chosen}, follow=True).content.decode()
        assert "in the library" not in page
    assert not MediaAsset.objects.exists()


def test_describe_from_the_page(staff, club, media_root):
    asset = MediaAssetFactory(club=club, alt_text="")
    response = staff.post(reverse("library:describe", args=[asset.pk]), {"alt_text": "Juniors on the range"})
    assert response.status_code == 302 and response["Location"].endswith(f"#asset-{asset.pk}")
    asset.refresh_from_db()
    assert asset.alt_text == "Juniors on the range"
    staff.post(reverse("library:describe", args=[asset.pk]), {"alt_text": "z" * 1001})
    asset.refresh_from_db()
    assert asset.alt_text == "Juniors on the range"


def test_remove_asks_first_and_is_refused_while_a_post_uses_the_image(staff, club, media_root):
    used, unused = MediaAssetFactory(club=club), MediaAssetFactory(club=club)
    post = post_create(tenant=club.tenant, connection=SocialConnectionFactory(club=club), content="Open day",
                       created_by="alex", media_urls=[used.url])
    page = staff.get(reverse("library:delete", args=[used.pk])).content.decode()
    assert "is used by 1 post" in page and reverse("posts:detail", args=[post.pk]) in page
    assert 'name="confirm"' not in page
    refused = staff.post(reverse("library:delete", args=[used.pk]), {"confirm": "yes"}, follow=True)
    assert "is used by 1 post" in refused.content.decode()
    assert MediaAsset.objects.filter(pk=used.pk).exists()
    assert 'name="confirm"' in staff.get(reverse("library:delete", args=[unused.pk])).content.decode()
    staff.post(reverse("library:delete", args=[unused.pk]))  # no confirmation: nothing happens
    assert MediaAsset.objects.filter(pk=unused.pk).exists()
    staff.post(reverse("library:delete", args=[unused.pk]), {"confirm": "yes"})
    assert not MediaAsset.objects.filter(pk=unused.pk).exists()


def test_the_staff_nav_names_the_library(staff):
    page = staff.get(reverse("library:list")).content.decode()
    assert f'<a href="{reverse("library:list")}" aria-current="page">Media</a>' in page
