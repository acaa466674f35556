import pytest
from django.utils import timezone

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import ClubFactory, StaffFactory
from notifications.services import notify_post_failed
from posts.tests.factories import SocialPostFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_failed_post_shows_a_banner_on_a_phone_until_it_is_dismissed(page, login):
    club = ClubFactory(name="Heathland GC")
    StaffFactory(tenant=club.tenant, user__username="pat", clubs=[club])
    connection = SocialConnectionFactory(club=club, account_name="Heathland on Facebook")
    post = SocialPostFactory(connection=connection, created_by="pat", status="FAILED", scheduled_at=timezone.now(),
                             error="The platform refused the text.")
    notify_post_failed(post=post)
    page.set_viewport_size({"width": 390, "height": 800})
    login("pat")
    banner = page.locator(".notification-banner")
    assert "Heathland on Facebook" in banner.inner_text() and "The platform refused the text." in banner.inner_text()
    page.goto("/campaigns/")
    assert page.locator(".notification-banner").count() == 1  # on every staff page
    page.click(".notification-banner a")
    page.wait_for_url(f"**/posts/{post.pk}/")
    with page.expect_navigation():
        page.click(".notification-banner button:has-text('Dismiss')")
    assert page.url.endswith(f"/posts/{post.pk}/")  # back where the person was
    assert page.locator(".notification-banner").count() == 0
    page.goto("/")
    assert page.locator(".notification-banner").count() == 0
