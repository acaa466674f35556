"""The SMS estimate: segments × recipients and the cost, on the form (before saving), the page, the preview and the API."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import Tenant
from crm.tests.factories import ClubFactory, MemberFactory, MessageTemplateFactory, StaffFactory
from promotions.models import SuppressionReason
from promotions.sms_estimate import sms_estimate
from promotions.suppression import suppression_add
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def club():
    club = ClubFactory(timezone="Europe/London")
    Tenant.objects.filter(pk=club.tenant_id).update(sms_price_per_segment=Decimal("0.0450"), sms_price_currency="GBP")
    club.tenant.refresh_from_db()
    return club


@pytest.fixture
def texters(club):
    members = [MemberFactory(club=club, phone=f"+4479111234{n:02d}", sms_consent=True, first_name="Al") for n in range(3)]
    MemberFactory(club=club, phone="+447911123499", sms_consent=False)  # no consent: not a recipient
    return members


@pytest.fixture
def ucs2_template(club):
    # 71 characters with one outside GSM-7 (Cyrillic): UCS-2, 2 segments per text
    return MessageTemplateFactory(tenant=club.tenant, channel="SMS", subject="", name="Long", body="ж" + "a" * 70)


def test_estimate_is_segments_times_recipients_per_step_and_priced(club, texters, ucs2_template):
    promotion = EventPromotionFactory(club=club, channels=["SMS"], reminder_days=[3, 1], sms_template=ucs2_template)
    estimate = sms_estimate(promotion=promotion)
    assert estimate.recipients == 3
    assert [(s.kind, s.days_before, s.encoding, s.segments_per_text, s.segments) for s in estimate.steps] == [
        ("ANNOUNCEMENT", 0, "UCS-2", 2, 6), ("REMINDER", 3, "UCS-2", 2, 6), ("REMINDER", 1, "UCS-2", 2, 6)]
    assert (estimate.segments, estimate.cost, estimate.currency) == (18, Decimal("0.81"), "GBP")


def test_suppressed_and_invalid_numbers_are_not_counted(club, texters, ucs2_template):
    suppression_add(tenant_id=club.tenant_id, channel="SMS", address=texters[0].phone,
                    reason=SuppressionReason.SMS_UNREACHABLE)
    MemberFactory(club=club, phone="12345", sms_consent=True)
    promotion = EventPromotionFactory(club=club, channels=["SMS"], reminder_days=[], sms_template=ucs2_template)
    assert sms_estimate(promotion=promotion).recipients == 2


def test_no_price_no_cost(club, texters):
    Tenant.objects.filter(pk=club.tenant_id).update(sms_price_per_segment=None)
    club.tenant.refresh_from_db()
    promotion = EventPromotionFactory(club=club, channels=["SMS"], reminder_days=[])
    estimate = sms_estimate(promotion=promotion)
    assert estimate.cost is None and estimate.segments == 3


def form_data(club, template, **extra):
    starts = (timezone.now() + datetime.timedelta(days=20)).strftime("%Y-%m-%dT%H:%M")
    return {"club": club.pk, "event_name": "Open", "event_starts_at": starts, "channels": ["SMS"], "reminder_days": "2",
            "sms_template": template.pk, **extra}


def test_the_form_shows_the_estimate_before_the_promotion_is_saved(client, club, texters, ucs2_template):
    client.force_login(StaffFactory(tenant=club.tenant).user)
    answer = client.post("/promotions/sms-estimate/", form_data(club, ucs2_template)).json()["estimate"]
    assert (answer["recipients"], answer["segments"], answer["cost"], answer["currency"]) == (3, 12, "0.54", "GBP")
    assert answer["steps"][0]["encoding"] == "UCS-2"
    # An invalid form (no event name) is re-shown with the estimate, server-side, and nothing is saved.
    page = client.post("/promotions/new/", form_data(club, ucs2_template, event_name="")).content.decode()
    assert "12 segments in all: about 0.54 GBP" in page
    assert 'src="/static/js/promotions-form.js"' in page


def test_the_estimate_endpoint_keeps_to_the_callers_tenant(client, club, texters, ucs2_template):
    other = ClubFactory()
    client.force_login(StaffFactory(tenant=other.tenant).user)
    assert client.post("/promotions/sms-estimate/", form_data(club, ucs2_template)).json() == {"estimate": None}
    foreign = EventPromotionFactory(club=club, channels=["SMS"])
    assert client.post("/promotions/sms-estimate/", {**form_data(other, ucs2_template),
                                                     "promotion": foreign.pk}).status_code == 404


def test_the_page_and_preview_show_segments(client, club, texters, ucs2_template):
    client.force_login(StaffFactory(tenant=club.tenant).user)
    promotion = EventPromotionFactory(club=club, channels=["SMS"], reminder_days=[], sms_template=ucs2_template)
    page = client.get(f"/promotions/{promotion.pk}/").content.decode()
    assert "6 segments in all: about 0.27 GBP" in page
    preview = client.get(f"/promotions/{promotion.pk}/preview/").content.decode()
    assert "71 UCS-2 characters" in preview and "2 segments (up to 70 in one)" in preview


def test_the_api_returns_the_estimate_saved_or_not(club, texters, ucs2_template):
    api = APIClient()
    api.force_authenticate(StaffFactory(tenant=club.tenant).user)
    starts = (timezone.now() + datetime.timedelta(days=20)).isoformat()
    draft = api.post("/api/v1/promotions/sms-estimate/", {
        "club": club.pk, "channels": ["SMS"], "reminder_days": [2], "sms_template": ucs2_template.pk,
        "event_name": "Open", "event_starts_at": starts}, format="json")
    assert draft.status_code == 200, draft.content
    assert (draft.json()["segments"], draft.json()["cost"]) == (12, "0.54")
    assert api.post("/api/v1/promotions/sms-estimate/", {"channels": ["SMS"]}, format="json").json()["fields"] == {
        "club": ["This field is required."]}
    promotion = EventPromotionFactory(club=club, channels=["SMS"], reminder_days=[], sms_template=ucs2_template)
    saved = api.get(f"/api/v1/promotions/{promotion.pk}/sms-estimate/").json()
    assert (saved["recipients"], saved["segments"], saved["steps"][0]["segments_per_text"]) == (3, 6, 2)
    other = APIClient()
    other.force_authenticate(StaffFactory(tenant=ClubFactory().tenant).user)
    assert other.get(f"/api/v1/promotions/{promotion.pk}/sms-estimate/").status_code == 404


def test_admins_set_the_price_and_link_tracking(client, club):
    client.force_login(StaffFactory(tenant=club.tenant, role="ADMIN").user)
    response = client.post("/promotions/settings/", {
        "form": "delivery", "delivery-sms_price_per_segment": "0.07", "delivery-sms_price_currency": "eur",
        "delivery-utm_medium_social": "social-post", "delivery-utm_medium_email": "newsletter",
        "delivery-utm_medium_sms": "text"})
    assert response.status_code == 302
    club.tenant.refresh_from_db()
    assert (club.tenant.sms_price_per_segment, club.tenant.sms_price_currency) == (Decimal("0.07"), "EUR")
    assert (club.tenant.utm_enabled, club.tenant.utm_medium_email) == (False, "newsletter")
    bad = client.post("/promotions/settings/", {"form": "delivery", "delivery-sms_price_per_segment": "-1",
                                                "delivery-sms_price_currency": "euro", "delivery-utm_medium_social": "a b",
                                                "delivery-utm_medium_email": "e", "delivery-utm_medium_sms": "s"})
    assert bad.status_code == 200
    assert "three-letter currency code" in bad.content.decode()


def test_the_template_form_counts_segments_as_staff_type(client, club):
    staff = StaffFactory(tenant=club.tenant).user
    client.force_login(staff)
    answer = client.post("/promotions/sms-count/", {"text": "Привет {{ first_name }}! " + "ж" * 60}).json()
    assert (answer["encoding"], answer["units"], answer["segments"]) == ("UCS-2", 73, 2)
    answer = client.post("/promotions/sms-count/", {"text": "{{ event_name }} €"}).json()
    assert (answer["encoding"], answer["units"], answer["segments"]) == ("GSM-7", 15, 1)  # "Summer Medal " + € (2)
    refused = client.post("/promotions/sms-count/", {"text": "{{ first_name.__class__ }}"}).json()
    assert refused["problem"]
    assert client.post("/promotions/sms-count/", {"text": "x" * 5001}).status_code == 400


def test_the_admin_template_form_loads_the_counter(client, club):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(admin)
    page = client.get("/admin/crm/messagetemplate/add/").content.decode()
    assert "/static/js/sms-count.js" in page


def test_past_the_render_limit_the_rendered_texts_stand_for_the_rest(club, texters, ucs2_template, monkeypatch):
    from promotions import sms_estimate as module

    monkeypatch.setattr(module, "ESTIMATE_RENDER_LIMIT", 2)
    MemberFactory(club=club, phone="+447911123460", sms_consent=True)
    promotion = EventPromotionFactory(club=club, channels=["SMS"], reminder_days=[], sms_template=ucs2_template)
    estimate = sms_estimate(promotion=promotion)
    assert (estimate.recipients, estimate.segments) == (4, 8)
