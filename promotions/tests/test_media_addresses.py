"""An event's image address is checked where it comes in: web addresses only, no user name or password."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm.tests.factories import ClubFactory, StaffFactory
from promotions.models import EventPromotion
from promotions.tests.factories import EventPromotionFactory
from promotions.tests.test_intake import event_body, post_event

pytestmark = pytest.mark.django_db

BAD = [
    ("file:///etc/passwd", "http:// or https://"),
    ("http://admin:hunter2@cdn.example.com/medal.jpg", "user name or password"),
]


@pytest.fixture
def club():
    return ClubFactory(timezone="Europe/London")


@pytest.mark.parametrize("address, reason", BAD)
def test_an_inbound_event_with_an_unusable_image_address_is_400(client, club, address, reason):
    response = post_event(client, event_body(club, image_url=address), secret=club.tenant.inbound_event_secret)
    assert response.status_code == 400, response.content
    assert reason in str(response.json()["fields"]["data"]["image_url"])
    assert not EventPromotion.objects.exists()


def test_an_inbound_event_with_a_web_image_address_is_applied(client, club):
    response = post_event(client, event_body(club, image_url="https://cdn.example.com/medal.jpg"),
                          secret=club.tenant.inbound_event_secret)
    assert response.status_code == 202, response.content
    assert EventPromotion.objects.get().event_image_url == "https://cdn.example.com/medal.jpg"


@pytest.mark.parametrize("address, reason", [
    ("file:///etc/passwd", "valid URL"),
    ("http://admin:hunter2@cdn.example.com/medal.jpg", "user name or password"),
])
def test_the_promotions_api_refuses_an_unusable_image_address(club, address, reason):
    api = APIClient()
    api.force_authenticate(StaffFactory(tenant=club.tenant).user)
    starts = (timezone.now() + datetime.timedelta(days=10)).replace(microsecond=0)
    response = api.post("/api/v1/promotions/", {
        "club": club.pk, "event_name": "Open Day", "event_starts_at": starts.isoformat(), "channels": ["SOCIAL"],
        "event_image_url": address}, format="json")
    assert response.status_code == 400, response.content
    assert reason in str(response.json()["fields"]["event_image_url"])


def test_the_promotion_page_refuses_credentials_in_the_image_address(client, club):
    promotion = EventPromotionFactory(club=club, source_type="SPECIAL", channels=["SOCIAL"])
    client.force_login(StaffFactory(tenant=club.tenant).user)
    starts = (timezone.now() + datetime.timedelta(days=40)).date()
    response = client.post(f"/promotions/{promotion.pk}/edit/", {
        "event_name": "Medal", "event_starts_at": f"{starts:%Y-%m-%d}T10:00", "channels": ["SOCIAL"],
        "reminder_days": "2", "is_active": "on", "event_image_url": "https://me:pw@cdn.example.com/a.jpg"})
    assert response.status_code == 200
    assert "must not contain a user name or password" in response.content.decode()
    promotion.refresh_from_db()
    assert "pw@" not in promotion.event_image_url
