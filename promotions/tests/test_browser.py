import datetime
import uuid

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


def connect_tenant_wide(tenant, slug):
    """Connect `slug`'s main simulated account through the real OAuth flow, serving the whole tenant."""
    from connections.tests.factories import SocialConnectionFactory
    from platforms import adapter_for_slug
    from platforms.tests.contract import click_consent, query_of
    from posts.tests.conftest import MAIN_ACCOUNT, REDIRECT

    adapter = adapter_for_slug(slug)
    state, verifier = uuid.uuid4().hex, adapter.new_code_verifier()
    redirect = REDIRECT.format(slug=slug)
    location = click_consent(adapter.authorization_url(redirect_uri=redirect, state=state, code_verifier=verifier))
    tokens = adapter.exchange_code(code=query_of(location)["code"], redirect_uri=redirect, code_verifier=verifier)
    account = next(a for a in adapter.list_accounts(tokens=tokens) if a.account_id == MAIN_ACCOUNT[slug])
    return SocialConnectionFactory(
        club=None, tenant=tenant, platform=adapter.platform, account_id=account.account_id,
        account_name=account.name, account_type=adapter.account_type, permissions=account.permissions,
        account_details=account.details, token_expiry=account.expires_at,
        tokens=(account.access_token, account.refresh_token))


def test_a_social_promotion_on_tenant_wide_connections_shows_each_networks_outcome(
    page, login, simulator, simulator_settings, settings
):
    from posts.publishing import posts_publish_due
    from socialcrm.celery import app

    settings.MEDIA_PROCESSING_POLL_INTERVAL = 0.02
    club = ClubFactory(name="Heathland GC", timezone="Europe/London")
    for slug in ("facebook", "linkedin", "twitter"):
        connect_tenant_wide(club.tenant, slug)
    StaffFactory(tenant=club.tenant, user__username="pat")
    login("pat")

    page.goto("/promotions/")
    page.click("text=New special promotion")
    starts = timezone.localtime(timezone.now() + datetime.timedelta(days=10)).replace(hour=10, minute=0)
    page.fill("#id_event_name", "Spring Greensomes")
    page.fill("#id_event_starts_at", starts.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_event_url", "https://example.com/greensomes")
    for channel in ("EMAIL", "SMS"):
        page.uncheck(f"input[name=channels][value={channel}]")
    page.check("input[name=channels][value=SOCIAL]")
    page.fill("#id_reminder_days", "1")
    page.click("text=Create promotion")
    page.wait_for_selector("h1:has-text('Spring Greensomes')")

    # The dispatch fans out to every tenant-wide connection; nothing is sent until the publisher runs.
    dispatch_due()
    page.reload()
    first = page.locator("table.timeline tbody tr").nth(0)
    assert "Waiting" in first.inner_text() and "no active social connection" not in first.inner_text()
    assert first.locator(".outcome-waiting").count() == 3

    simulator.inject("facebook", "POST */feed", "permission")
    previous, app.conf.task_always_eager = app.conf.task_always_eager, True
    try:
        posts_publish_due()
    finally:
        app.conf.task_always_eager = previous
    page.reload()
    first = page.locator("table.timeline tbody tr").nth(0)
    failed = first.locator(".outcome-failed")
    assert failed.count() == 1 and "Facebook" in failed.inner_text()
    assert failed.locator(".reason").inner_text().strip()
    sent = first.locator(".outcome-sent")
    assert sent.count() == 2
    names = sent.locator(".network").all_inner_texts()
    assert any(n.startswith("LinkedIn") for n in names) and any(n.startswith("X") for n in names)
    assert all(link.get_attribute("href").startswith("http") for link in sent.locator("a").all())
    assert "3 planned · 2 sent · 0 skipped · 1 failed" in first.inner_text()


def test_the_form_shows_the_sms_segments_and_cost_live_before_saving(page, login):
    from decimal import Decimal

    from crm.models import Tenant
    from crm.tests.factories import MessageTemplateFactory

    club = ClubFactory(name="Heathland GC", timezone="Europe/London")
    Tenant.objects.filter(pk=club.tenant_id).update(sms_price_per_segment=Decimal("0.05"), sms_price_currency="EUR")
    for n in range(3):
        MemberFactory(club=club, phone=f"+4479111234{n:02d}", sms_consent=True)
    MessageTemplateFactory(tenant=club.tenant, channel="SMS", subject="", name="Long Cyrillic", body="ж" + "a" * 70)
    StaffFactory(tenant=club.tenant, user__username="pat")
    login("pat")
    page.goto("/promotions/new/")
    page.fill("#id_event_name", "Open")
    page.fill("#id_event_starts_at", (timezone.now() + datetime.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"))
    page.uncheck("input[name=channels][value=EMAIL]")
    page.uncheck("input[name=channels][value=SOCIAL]")
    page.check("input[name=channels][value=SMS]")
    page.fill("#id_reminder_days", "")
    page.select_option("#id_sms_template", label="Long Cyrillic (SMS)")
    estimate = page.locator("[data-sms-estimate-body]")
    estimate.locator("text=6 segments in all: about 0.30 EUR").wait_for()
    assert "UCS-2" in estimate.inner_text()
    assert not EventPromotion.objects.exists()
