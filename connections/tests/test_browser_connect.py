import pytest

from connections.models import SocialConnection
from crm.tests.factories import ClubFactory, StaffFactory
from simulator import world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff_login(simulator_settings, settings, live_server, login):
    settings.SITE_URL = live_server.url
    club = ClubFactory(name="Pinewood Golf Club")
    StaffFactory(tenant=club.tenant, user__username="casey")
    return login("casey")


def connect_in_browser(page, platform_label, account_label):
    page.goto("/connections/")
    page.click(f"text=Connect {platform_label}")
    page.wait_for_selector("text=Allow")
    page.click("button:has-text('Allow')")
    page.wait_for_selector("#offered-accounts")
    page.check(f"#offered-accounts tr:has-text('{account_label}') input[type=checkbox]")
    page.click("text=Connect selected")
    page.wait_for_selector("#connections")


def test_staff_connect_all_four_platforms_through_the_consent_pages(staff_login):
    page = staff_login
    connect_in_browser(page, "Facebook", "Pinewood Golf Club")
    connect_in_browser(page, "Instagram", world.INSTAGRAM_USERNAME)
    connect_in_browser(page, "X (Twitter)", "Pinewood Golf")
    connect_in_browser(page, "LinkedIn", "Pinewood Golf Club")
    rows = page.locator("#connections tbody tr")
    assert rows.count() == 4
    for index in range(4):
        assert rows.nth(index).get_attribute("data-health") == "active"
    assert {c.platform for c in SocialConnection.objects.filter(is_active=True)} == {
        "FACEBOOK", "INSTAGRAM", "TWITTER", "LINKEDIN"}
    assert "Active" in page.inner_text("#connections")


def test_deny_shows_a_clear_message_and_creates_nothing(staff_login):
    page = staff_login
    page.goto("/connections/")
    page.click("text=Connect LinkedIn")
    page.click("button:has-text('Deny')")
    page.wait_for_selector("h1:has-text('Access denied')")
    assert "nothing was connected" in page.inner_text("[role=alert]")
    assert not SocialConnection.objects.exists()
