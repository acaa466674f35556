import datetime

import pytest
from django.utils import timezone

from crm.tests.factories import ClubFactory, StaffFactory
from promotions.models import EventPromotion
from promotions.planning import promotion_plan
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def club():
    return ClubFactory(timezone="Europe/London")


def test_tenant_admins_edit_the_defaults_and_staff_may_not(client, club):
    staff = StaffFactory(tenant=club.tenant).user
    client.force_login(staff)
    assert client.get("/promotions/settings/").status_code == 403
    admin = StaffFactory(tenant=club.tenant, role="ADMIN").user
    client.force_login(admin)
    assert client.get("/promotions/").content.count(b"Promotion defaults") == 1
    response = client.post("/promotions/settings/", {
        "auto_promote": "", "default_channels": ["EMAIL", "SOCIAL"], "default_reminder_days": "14, 2",
        "default_send_time": "18:30",
    })
    assert response.status_code == 302
    club.tenant.refresh_from_db()
    assert (club.tenant.default_channels, club.tenant.default_reminder_days) == (["EMAIL", "SOCIAL"], [14, 2])
    assert club.tenant.default_send_time == datetime.time(18, 30) and club.tenant.auto_promote is False


def test_edit_reads_times_on_the_club_clock_and_deactivate_cancels(client, club):
    promotion = EventPromotionFactory(club=club, source_type="SPECIAL", channels=["EMAIL"])
    client.force_login(StaffFactory(tenant=club.tenant).user)
    starts = (timezone.now() + datetime.timedelta(days=40)).date()
    response = client.post(f"/promotions/{promotion.pk}/edit/", {
        "event_name": "Moved Medal", "event_starts_at": f"{starts:%Y-%m-%d}T10:00", "channels": ["EMAIL"],
        "reminder_days": "2", "is_active": "on",
    })
    assert response.status_code == 302, response.content
    promotion.refresh_from_db()
    local = timezone.localtime(promotion.event_starts_at, promotion.club.timezone)
    assert (promotion.event_name, local.date(), local.hour) == ("Moved Medal", starts, 10)
    assert set(promotion.dispatches.filter(status="PLANNED").values_list("days_before", flat=True)) == {0, 2}
    client.post(f"/promotions/{promotion.pk}/toggle/")
    assert not EventPromotion.objects.get(pk=promotion.pk).is_active
    assert not promotion.dispatches.filter(status="PLANNED").exists()


def test_other_tenants_promotions_are_not_found(client, club):
    foreign = EventPromotionFactory()
    client.force_login(StaffFactory(tenant=club.tenant).user)
    for suffix in ("", "edit/", "preview/"):
        assert client.get(f"/promotions/{foreign.pk}/{suffix}").status_code == 404


def test_a_past_event_is_refused_by_the_service_and_shown_on_the_field(client, club):
    client.force_login(StaffFactory(tenant=club.tenant).user)
    yesterday = (timezone.now() - datetime.timedelta(days=1)).date()
    response = client.post("/promotions/new/", {
        "club": club.pk, "event_name": "Past Medal", "event_starts_at": f"{yesterday:%Y-%m-%d}T10:00",
        "channels": ["EMAIL"], "reminder_days": "1"})
    assert response.status_code == 200
    assert response.context["form"].errors["event_starts_at"] == ["The event must be in the future."]
    assert not EventPromotion.objects.filter(event_name="Past Medal").exists()


def test_a_start_in_the_spring_forward_gap_is_read_past_the_gap(client, club):
    promotion = EventPromotionFactory(club=club, source_type="SPECIAL", channels=["EMAIL"])
    client.force_login(StaffFactory(tenant=club.tenant).user)
    response = client.post(f"/promotions/{promotion.pk}/edit/", {
        "event_name": "Dawn Medal", "event_starts_at": "2030-03-31T01:30", "channels": ["EMAIL"],
        "reminder_days": "1", "is_active": "on"})
    assert response.status_code == 302, response.context["form"].errors
    promotion.refresh_from_db()
    # 31 March 2030: London skips 01:00-02:00; 01:30 is read as 02:30 BST (01:30 UTC), never an hour early.
    assert promotion.event_starts_at == datetime.datetime(2030, 3, 31, 1, 30, tzinfo=datetime.UTC)


def test_an_announcement_after_the_event_starts_is_refused_on_its_field(client, club):
    client.force_login(StaffFactory(tenant=club.tenant).user)
    day = (timezone.now() + datetime.timedelta(days=10)).date()
    response = client.post("/promotions/new/", {
        "club": club.pk, "event_name": "Late Medal", "event_starts_at": f"{day:%Y-%m-%d}T10:00",
        "announce_at": f"{day:%Y-%m-%d}T12:00", "channels": ["EMAIL"], "reminder_days": "1"})
    assert response.status_code == 200
    assert response.context["form"].errors["announce_at"] == ["The announcement must go out before the event starts."]
    assert not EventPromotion.objects.filter(event_name="Late Medal").exists()

    promotion = EventPromotionFactory(club=club, source_type="SPECIAL", channels=["EMAIL"])
    response = client.post(f"/promotions/{promotion.pk}/edit/", {
        "event_name": promotion.event_name, "event_starts_at": f"{day:%Y-%m-%d}T10:00",
        "announce_at": f"{day:%Y-%m-%d}T10:00", "channels": ["EMAIL"], "reminder_days": "1"})
    assert response.status_code == 200 and "announce_at" in response.context["form"].errors


def test_the_lists_progress_does_not_count_skipped_steps_as_done(client, club):
    from promotions.models import DispatchStatus

    promotion = EventPromotionFactory(club=club, channels=["EMAIL"], reminder_days=[3, 1], event_name="Club Pairs")
    promotion_plan(promotion=promotion)
    first, second, third = promotion.dispatches.order_by("scheduled_for")
    first.status, second.status = DispatchStatus.SENT, DispatchStatus.SKIPPED
    first.save(), second.save()
    client.force_login(StaffFactory(tenant=club.tenant).user)
    page = client.get("/promotions/").content.decode()
    assert "1 of 3 sends done · 1 skipped" in page
