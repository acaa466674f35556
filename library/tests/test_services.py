"""The library's writes: upload once, describe, remove only when unused, and posts that use its images."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import ClubFactory, StaffFactory
from library.models import MediaAsset, PostMedia
from library.services import MediaInUse, media_delete, media_describe, media_upload
from library.tests import images
from posts.content import post_content
from posts.services import post_create, post_update

pytestmark = pytest.mark.django_db


def test_an_upload_is_stored_normalised_with_its_facts(club, staff_user, media_root, upload):
    asset, created = media_upload(tenant=club.tenant, club=club, upload=upload(images.png(), "logo.png"),
                                  by=staff_user, alt_text="  The club   crest ")
    assert created
    assert asset.content_type == "image/jpeg" and asset.file.name.endswith("/logo.jpg")
    assert (asset.width, asset.height) == (120, 120) and asset.size == default_storage.size(asset.file.name)
    assert default_storage.exists(asset.thumbnail.name)
    assert asset.alt_text == "The club crest" and asset.created_by == staff_user
    assert asset.url == "http://127.0.0.1:9/media/" + asset.file.name


def test_the_same_file_uploaded_twice_is_one_image(club, staff_user, media_root, upload):
    data = images.jpeg(300, 300)
    first, _ = media_upload(tenant=club.tenant, club=club, upload=upload(data), by=staff_user)
    again, created = media_upload(tenant=club.tenant, club=club, upload=upload(data, "copy.jpg"), by=staff_user,
                                  alt_text="Now described")
    assert not created and again.pk == first.pk and MediaAsset.objects.count() == 1
    assert again.alt_text == "Now described"  # an empty description is filled, never overwritten
    other_club = ClubFactory(tenant=club.tenant)
    elsewhere, created = media_upload(tenant=club.tenant, club=other_club, upload=upload(data), by=None)
    assert created and elsewhere.pk != first.pk


def test_refusals_name_the_file(club, staff_user, media_root, upload, settings):
    with pytest.raises(ValidationError) as caught:
        media_upload(tenant=club.tenant, club=club, upload=upload(b"not an image", "notes.txt"), by=staff_user)
    assert "notes.txt" in str(caught.value.message_dict["file"])
    settings.MEDIA_LIBRARY_UPLOAD_MAX_BYTES = 1000
    with pytest.raises(ValidationError) as caught:
        media_upload(tenant=club.tenant, club=club, upload=upload(images.jpeg(400, 400), "big.jpg"), by=staff_user)
    assert "big.jpg” is larger than" in str(caught.value.message_dict["file"])
    assert not MediaAsset.objects.exists()


def test_club_limited_staff_upload_into_their_own_clubs_only(club, media_root, upload):
    limited = StaffFactory(tenant=club.tenant, clubs=[club]).user
    with pytest.raises(ValidationError) as caught:
        media_upload(tenant=club.tenant, club=None, upload=upload(), by=limited)
    assert "club" in caught.value.message_dict
    with pytest.raises(ValidationError):
        media_upload(tenant=club.tenant, club=ClubFactory(tenant=club.tenant), upload=upload(), by=limited)
    asset, _ = media_upload(tenant=club.tenant, club=club, upload=upload(), by=limited)
    assert asset.club == club


def test_a_description_longer_than_every_platform_takes_is_refused(club, media_root, upload):
    asset, _ = media_upload(tenant=club.tenant, club=club, upload=upload(), by=None)
    with pytest.raises(ValidationError) as caught:
        media_describe(asset=asset, alt_text="x" * 1001)
    assert "at most 1,000 characters" in str(caught.value.message_dict["alt_text"])
    media_describe(asset=asset, alt_text="Juniors on the range")
    asset.refresh_from_db()
    assert asset.alt_text == "Juniors on the range"


def _post_with(asset, club, **kw):
    connection = SocialConnectionFactory(club=club, platform="TWITTER")
    return post_create(tenant=club.tenant, connection=connection, content="Range open", created_by="alex",
                       media_urls=[asset.url], **kw)


def test_a_post_using_a_library_image_records_it_and_carries_its_description(club, media_root, upload):
    asset, _ = media_upload(tenant=club.tenant, club=club, upload=upload(), by=None, alt_text="The new range")
    post = _post_with(asset, club)
    assert list(PostMedia.objects.filter(post=post).values_list("asset_id", "position")) == [(asset.pk, 0)]
    assert post_content(post).media_alt == ["The new range"]
    media_describe(asset=asset, alt_text="The new driving range at dawn")
    assert post_content(post).media_alt == ["The new driving range at dawn"]  # read when published
    post_update(post=post, by=None, media_urls=[])
    assert not PostMedia.objects.filter(post=post).exists()


def test_an_image_in_use_cannot_be_removed(club, media_root, upload):
    asset, _ = media_upload(tenant=club.tenant, club=club, upload=upload(), by=None)
    post = _post_with(asset, club)
    with pytest.raises(MediaInUse) as caught:
        media_delete(asset=asset)
    assert "is used by 1 post" in caught.value.message
    assert MediaAsset.objects.filter(pk=asset.pk).exists() and default_storage.exists(asset.file.name)
    post.delete()
    media_delete(asset=asset)
    assert not MediaAsset.objects.filter(pk=asset.pk).exists()


def test_removing_an_unused_image_removes_its_files(club, media_root, upload, django_capture_on_commit_callbacks):
    asset, _ = media_upload(tenant=club.tenant, club=club, upload=upload(), by=None)
    with django_capture_on_commit_callbacks(execute=True):
        media_delete(asset=asset)
    assert not default_storage.exists(asset.file.name) and not default_storage.exists(asset.thumbnail.name)


def test_a_post_cannot_use_another_tenants_or_another_clubs_library_image(club, media_root, upload):
    theirs = ClubFactory()
    foreign, _ = media_upload(tenant=theirs.tenant, club=theirs, upload=upload(), by=None)
    with pytest.raises(ValidationError) as caught:
        _post_with(foreign, club)
    assert "not in this club's media library" in str(caught.value.message_dict["media_urls"])
    sister = ClubFactory(tenant=club.tenant)
    sisters, _ = media_upload(tenant=club.tenant, club=sister, upload=upload(images.jpeg(50, 60)), by=None)
    with pytest.raises(ValidationError):
        _post_with(sisters, club)
    shared, _ = media_upload(tenant=club.tenant, club=None, upload=upload(images.jpeg(70, 80)), by=None)
    assert _post_with(shared, club).media_items.get().asset == shared
    # An account of the whole organisation serves every club: it may use a club's image (promotions do).
    everyone = SocialConnectionFactory(club=None, tenant=club.tenant, platform="TWITTER")
    post = post_create(tenant=club.tenant, connection=everyone, content="Sister club news", created_by="alex",
                       media_urls=[sisters.url])
    assert post.media_items.get().asset == sisters
