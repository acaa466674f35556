"""Tracked links: UTM parameters per destination, the link's own parameters kept, configurable per tenant."""

from urllib.parse import parse_qs, urlsplit

import pytest

from connections.tests.factories import SocialConnectionFactory
from crm.models import Tenant
from crm.tests.factories import CampaignFactory, ClubFactory, MemberFactory, StaffFactory
from promotions import messages
from promotions.tests.factories import EventPromotionFactory
from promotions.tracked_links import tracked_url, with_utm


def query(url):
    return parse_qs(urlsplit(url).query)


def test_utm_parameters_are_added_and_the_links_own_are_kept():
    url = with_utm("https://club.example/open?lang=en&utm_medium=poster#entry", source="sms", medium="text",
                   campaign="spring")
    assert urlsplit(url).fragment == "entry"
    assert query(url) == {"lang": ["en"], "utm_medium": ["poster"], "utm_source": ["sms"], "utm_campaign": ["spring"]}
    assert with_utm("mailto:a@b.example", source="x", medium="y", campaign="z") == "mailto:a@b.example"
    assert with_utm("", source="x", medium="y", campaign="z") == ""


@pytest.fixture
def promotion(db):
    club = ClubFactory(timezone="Europe/London")
    Tenant.objects.filter(pk=club.tenant_id).update(utm_medium_email="newsletter", utm_medium_sms="text")
    club.tenant.refresh_from_db()
    return EventPromotionFactory(club=club, event_name="Club Champs 2031", event_url="https://club.example/champs",
                                 channels=["EMAIL", "SMS", "SOCIAL"])


@pytest.mark.django_db
def test_each_destination_gets_its_source_and_the_tenants_medium(promotion):
    campaign = {"utm_campaign": ["club-champs-2031"]}
    assert query(tracked_url(promotion.event_url, promotion=promotion, channel="EMAIL")) == {
        "utm_source": ["email"], "utm_medium": ["newsletter"], **campaign}
    assert query(tracked_url(promotion.event_url, promotion=promotion, channel="SMS")) == {
        "utm_source": ["sms"], "utm_medium": ["text"], **campaign}
    assert query(tracked_url(promotion.event_url, promotion=promotion, channel="SOCIAL", network="LINKEDIN")) == {
        "utm_source": ["linkedin"], "utm_medium": ["social"], **campaign}
    promotion.campaign = CampaignFactory(tenant=promotion.tenant, name="Summer Series")
    assert query(tracked_url(promotion.event_url, promotion=promotion, channel="SMS"))["utm_campaign"] == ["summer-series"]


@pytest.mark.django_db
def test_emails_texts_and_posts_carry_the_tracked_link(promotion):
    member = MemberFactory(club=promotion.club)
    email = messages.email_content(promotion=promotion, member=member, kind="ANNOUNCEMENT", days_before=0)
    assert "https://club.example/champs?utm_source=email&amp;utm_medium=newsletter" in email.html
    assert "https://club.example/champs?utm_source=email&utm_medium=newsletter" in email.text
    text = messages.sms_text(promotion=promotion, member=member, kind="ANNOUNCEMENT", days_before=0)
    assert "https://club.example/champs?utm_source=sms&utm_medium=text&utm_campaign=club-champs-2031" in text
    promotion.social_content = "More: {{ event_url }}"
    post = messages.social_text(promotion=promotion, kind="ANNOUNCEMENT", days_before=0, network="FACEBOOK")
    assert post == "More: https://club.example/champs?utm_source=facebook&utm_medium=social&utm_campaign=club-champs-2031"


@pytest.mark.django_db
def test_tracking_off_leaves_links_alone(promotion):
    Tenant.objects.filter(pk=promotion.tenant_id).update(utm_enabled=False)
    promotion.club.tenant.refresh_from_db()
    member = MemberFactory(club=promotion.club)
    text = messages.sms_text(promotion=promotion, member=member, kind="ANNOUNCEMENT", days_before=0)
    assert "https://club.example/champs" in text and "utm_" not in text


@pytest.mark.django_db
def test_the_preview_shows_the_tracked_links(client, promotion):
    client.force_login(StaffFactory(tenant=promotion.tenant).user)
    page = client.get(f"/promotions/{promotion.pk}/preview/").content.decode()
    assert "https://club.example/champs?utm_source=sms&amp;utm_medium=text&amp;utm_campaign=club-champs-2031" in page
    SocialConnectionFactory(club=promotion.club, tenant=promotion.tenant, platform="LINKEDIN")
    page = client.get(f"/promotions/{promotion.pk}/preview/").content.decode()
    assert "utm_source=linkedin&amp;utm_medium=social" in page
    assert "utm_source=email&amp;utm_medium=newsletter" in page
