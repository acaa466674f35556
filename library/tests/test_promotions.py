"""Promotions use library images: chosen or uploaded on the form, kept while a promotion uses them."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from crm.tests.factories import ClubFactory, StaffFactory
from library.models import MediaAsset, PromotionImage
from library.services import MediaInUse, media_delete
from library.tests import images
from library.tests.factories import MediaAssetFactory
from promotions import services
from promotions.models import EventPromotion

pytestmark = pytest.mark.django_db


def form_data(club, **extra):
    day = (timezone.now() + datetime.timedelta(days=20)).date()
    return {"club": club.pk, "event_name": "Spring Medal", "event_starts_at": f"{day:%Y-%m-%d}T10:00",
            "channels": ["EMAIL"], "reminder_days": "1", "is_active": "on", **extra}


@pytest.fixture
def staff(client, club):
    client.force_login(StaffFactory(tenant=club.tenant).user)
    return client


def test_an_image_chosen_from_the_library_is_the_events_image_and_is_kept(staff, club, media_root):
    asset = MediaAssetFactory(club=club, alt_text="The medal trophy")
    page = staff.get("/promotions/new/").content.decode()
    assert "Or an image from the media library" in page and str(asset.pk) in page
    response = staff.post("/promotions/new/", form_data(club, library_image=asset.pk))
    assert response.status_code == 302, response.context["form"].errors
    promotion = EventPromotion.objects.get()
    assert promotion.event_image_url == asset.url and promotion.library_image.asset == asset
    with pytest.raises(MediaInUse) as caught:
        media_delete(asset=asset)
    assert "used by 1 promotion" in caught.value.message
    edit = staff.get(f"/promotions/{promotion.pk}/edit/").content.decode()
    assert f'<option value="{asset.pk}" selected>' in edit


def test_an_image_uploaded_on_the_form_goes_into_the_clubs_library(staff, club, media_root):
    upload = SimpleUploadedFile("medal.png", images.png(400, 300, transparent=False))
    response = staff.post("/promotions/new/", form_data(club, image_upload=upload))
    assert response.status_code == 302, response.context["form"].errors
    asset = MediaAsset.objects.get()
    assert asset.club == club and asset.content_type == "image/jpeg"
    assert EventPromotion.objects.get().event_image_url == asset.url
    assert PromotionImage.objects.get().asset == asset


def test_another_clubs_library_image_cannot_be_the_events_image(club, media_root):
    sister = MediaAssetFactory(club=ClubFactory(tenant=club.tenant))
    with pytest.raises(ValidationError) as caught:
        services.promotion_create_special(tenant=club.tenant, club=club, by="alex", event_name="Medal",
                                          event_starts_at=timezone.now() + datetime.timedelta(days=9),
                                          event_image_url=sister.url, channels=["EMAIL"])
    assert "not in this club's media library" in str(caught.value.message_dict["event_image_url"])
    assert not EventPromotion.objects.exists()


def test_changing_the_address_releases_the_image(club, media_root):
    asset = MediaAssetFactory(club=None, tenant=club.tenant)
    promotion = services.promotion_create_special(
        tenant=club.tenant, club=club, by="alex", event_name="Medal", channels=["EMAIL"],
        event_starts_at=timezone.now() + datetime.timedelta(days=9), event_image_url=asset.url)
    assert PromotionImage.objects.get(promotion=promotion).asset == asset
    services.promotion_update(promotion=promotion, event_image_url="https://cdn.example.com/medal.jpg")
    assert not PromotionImage.objects.exists()
    media_delete(asset=asset)
