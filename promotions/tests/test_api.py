import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm.tests.factories import ClubFactory, SegmentFactory, StaffFactory
from promotions.models import EventPromotion, PromotionDispatch
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_club():
    return ClubFactory(timezone="Europe/Paris")


@pytest.fixture
def api(staff_club):
    client = APIClient()
    client.force_authenticate(StaffFactory(tenant=staff_club.tenant).user)
    return client


def special(club, **extra):
    starts = (timezone.now() + datetime.timedelta(days=10)).replace(microsecond=0)
    return {"club": club.pk, "event_name": "Ladies' Open Day", "event_starts_at": starts.isoformat(),
            "channels": ["EMAIL", "SOCIAL"], "reminder_days": [3, 1], **extra}


def test_staff_create_a_special_promotion_and_it_is_planned(api, staff_club):
    response = api.post("/api/v1/promotions/", special(staff_club), format="json")
    assert response.status_code == 201, response.content
    promotion = EventPromotion.objects.get(pk=response.json()["id"])
    assert promotion.source_type == "SPECIAL" and promotion.tenant == staff_club.tenant
    assert promotion.dispatches.count() == 6  # announcement + 2 reminders, on 2 channels

    preview = api.get(f"/api/v1/promotions/{promotion.pk}/plan-preview/").json()
    assert {(m["kind"], m["days_before"], m["channel"]) for m in preview} == set(
        promotion.dispatches.values_list("kind", "days_before", "channel"))
    reminder = next(m for m in preview if m["days_before"] == 3)
    assert reminder["scheduled_for_local"][11:16] == "09:00" and reminder["scheduled_for_local"][-6:] in ("+01:00", "+02:00")

    dispatches = api.get("/api/v1/dispatches/", {"promotion": promotion.pk}).json()
    assert len(dispatches["results"]) == 6 and {"planned_count", "sent_count", "status"} <= set(dispatches["results"][0])
    assert api.post("/api/v1/dispatches/", {}).status_code == 405


def test_update_replans_and_delete_removes(api, staff_club):
    promotion = EventPromotion.objects.get(pk=api.post("/api/v1/promotions/", special(staff_club), format="json").json()["id"])
    response = api.patch(f"/api/v1/promotions/{promotion.pk}/", {"reminder_days": [5], "channels": ["EMAIL"]}, format="json")
    assert response.status_code == 200, response.content
    pending = set(PromotionDispatch.objects.filter(promotion=promotion, status="PLANNED").values_list("days_before", "channel"))
    assert pending == {(0, "EMAIL"), (5, "EMAIL")}
    assert api.delete(f"/api/v1/promotions/{promotion.pk}/").status_code == 204
    assert not EventPromotion.objects.filter(pk=promotion.pk).exists()


def test_event_details_of_a_sourced_promotion_cannot_be_changed(api, staff_club):
    promotion = EventPromotionFactory(club=staff_club)
    response = api.patch(f"/api/v1/promotions/{promotion.pk}/", {"event_name": "Hijacked"}, format="json")
    assert response.status_code == 400 and "event_name" in response.json()["fields"]


def test_other_tenants_ids_are_not_found(api, staff_club):
    other_club = ClubFactory()
    foreign = EventPromotionFactory(club=other_club)
    assert api.get(f"/api/v1/promotions/{foreign.pk}/").status_code == 404
    assert api.get(f"/api/v1/promotions/{foreign.pk}/plan-preview/").status_code == 404
    response = api.post("/api/v1/promotions/", special(other_club), format="json")
    assert response.status_code == 400 and "club" in response.json()["fields"]
    foreign_segment = SegmentFactory(tenant=other_club.tenant)
    response = api.post("/api/v1/promotions/", special(staff_club, segment=str(foreign_segment.pk)), format="json")
    assert response.status_code == 400 and "segment" in response.json()["fields"]
    assert api.get("/api/v1/dispatches/").json()["results"] == []


@pytest.mark.parametrize("starts_at", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:30:00Z", "1999-06-01T10:00:00Z"])
def test_event_times_planning_cannot_handle_are_field_errors(api, staff_club, starts_at):
    response = api.post("/api/v1/promotions/", special(staff_club, event_starts_at=starts_at), format="json")
    assert response.status_code == 400, response.content
    assert "event_starts_at" in response.json()["fields"]
    assert not EventPromotion.objects.exists() and not PromotionDispatch.objects.exists()


def test_a_special_promotion_cannot_be_moved_beyond_the_planning_range(api, staff_club):
    promotion_id = api.post("/api/v1/promotions/", special(staff_club), format="json").json()["id"]
    response = api.patch(f"/api/v1/promotions/{promotion_id}/", {"event_starts_at": "9999-12-31T23:30:00Z"},
                         format="json")
    assert response.status_code == 400, response.content
    assert "event_starts_at" in response.json()["fields"]
    assert EventPromotion.objects.get(pk=promotion_id).event_starts_at.year < 9999


def test_a_new_special_promotion_for_a_past_event_is_refused(api, staff_club):
    past = (timezone.now() - datetime.timedelta(hours=1)).isoformat()
    response = api.post("/api/v1/promotions/", special(staff_club, event_starts_at=past), format="json")
    assert response.status_code == 400
    assert response.json()["fields"]["event_starts_at"] == ["The event must be in the future."]
