import pytest

from crm.tests.factories import ClubFactory, StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_log_in_and_visit_every_page(page, login):
    club = ClubFactory(name="Heathland GC")
    StaffFactory(tenant=club.tenant, user__username="pat")
    login("pat")
    for link, heading in [("Connections", "Connections"), ("Posts", "Posts"), ("Calendar", "Calendar"),
                          ("Promotions", "Promotions"), ("Campaigns", "Campaigns"), ("Dashboard", "Dashboard")]:
        page.click(f"nav.mainnav >> text={link}")
        assert page.locator("h1").first.inner_text().startswith(heading)
    assert "Heathland GC" in page.inner_text("header")
    page.click("text=Log out")
    page.wait_for_url("**/login/")
