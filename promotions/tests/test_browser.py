import datetime

import pytest
from django.core import mail
from django.utils import timezone

from crm.tests.factories import ClubFactory, MemberFactory, StaffFactory
from promotions.dispatching import dispatch_due
from promotions.models import EventPromotion

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_create_a_special_promotion_see_its_timeline_and_preview_the_messages(page, login):
    club = ClubFactory(name="Heathland GC", timezone="Europe/London")
    MemberFactory.create_batch(4, club=club)
    MemberFactory(club=club, first_name="Robin", last_name="Aardvark")
    StaffFactory(tenant=club.tenant, user__username="pat")
    login("pat")

    page.click("nav.mainnav >> text=Promotions")
    page.click("text=New special promotion")
    starts = timezone.localtime(timezone.now() + datetime.timedelta(days=10)).replace(hour=10, minute=0)
    page.fill("#id_event_name", "Autumn Texas Scramble")
    page.fill("#id_event_starts_at", starts.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_event_location", "West Course")
    page.fill("#id_event_url", "https://example.com/scramble")
    page.uncheck("input[name=channels][value=SMS]")
    page.uncheck("input[name=channels][value=SOCIAL]")
    page.check("input[name=channels][value=EMAIL]")
    page.fill("#id_reminder_days", "7, 3, 1")
    page.click("text=Create promotion")

    page.wait_for_selector("h1:has-text('Autumn Texas Scramble')")
    rows = page.locator("table.timeline tbody tr")
    assert rows.count() == 4
    assert "Announcement" in rows.nth(0).inner_text() and "Planned" in rows.nth(0).inner_text()
    assert "09:00" in rows.nth(1).inner_text() and "7 days before" in rows.nth(1).inner_text()

    # The dispatcher sends the announcement; the timeline shows its progress.
    promotion = EventPromotion.objects.get(event_name="Autumn Texas Scramble")
    assert promotion.source_type == "SPECIAL"
    dispatch_due()
    assert len(mail.outbox) == 5
    page.reload()
    first = page.locator("table.timeline tbody tr").nth(0)
    assert "Sent" in first.inner_text()
    assert "5 planned · 5 sent · 0 skipped · 0 failed" in first.inner_text()
    assert first.locator(".progress .sent").get_attribute("width") == "100"

    page.click("text=Preview messages")
    page.wait_for_selector("#preview-email")
    assert "Hello Robin" in page.inner_text("#preview-email")
    assert "Autumn Texas Scramble" in page.inner_text("#preview-email .subject")
    assert "List-Unsubscribe=One-Click" in page.inner_text("#preview-email")
    assert "Reply STOP" in page.inner_text("#preview-sms")
    assert "Autumn Texas Scramble at Heathland GC" in page.inner_text("#preview-social")
    page.select_option("#preview-step", "REMINDER:1")
    page.click("text=Show")
    page.wait_for_url("**step=REMINDER**")
    assert "Tomorrow" in page.inner_text("#preview-email .subject")
