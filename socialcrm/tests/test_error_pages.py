"""Issue 15's small ones: styled 403, 404 and 500 pages (the 500 one rendered with no query), a favicon,
and the navigation's links to the admin and the API docs."""

import pytest
from django.contrib.staticfiles import finders
from django.test import RequestFactory
from django.urls import get_resolver, reverse

from crm.services import staff_create
from crm.tests.factories import ClubFactory, StaffFactory

pytestmark = pytest.mark.django_db


def assert_styled(html):
    assert '<html lang="en">' in html and "/static/css/app.css" in html and "/static/favicon.svg" in html
    assert 'href="/"' in html  # a way back


def test_unknown_address_gets_the_styled_not_found_page(client):
    club = ClubFactory()
    client.force_login(StaffFactory(tenant=club.tenant).user)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert_styled(html)
    assert "<h1>Page not found</h1>" in html


def test_page_a_role_may_not_open_gets_the_styled_forbidden_page_with_the_reason(client):
    club = ClubFactory()
    client.force_login(StaffFactory(tenant=club.tenant, role="STAFF").user)
    response = client.get(reverse("promotions:settings"))
    assert response.status_code == 403
    html = response.content.decode()
    assert_styled(html)
    assert "You may not open this page" in html and "Only tenant admins may change the promotion defaults." in html


def test_server_error_page_is_styled_and_needs_no_database(django_assert_num_queries):
    handler = get_resolver().resolve_error_handler(500)
    with django_assert_num_queries(0):
        response = handler(RequestFactory().get("/posts/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert_styled(html)
    assert "Something went wrong on our side" in html


def test_favicon_is_linked_from_every_page_and_served_by_the_app(client):
    assert finders.find("favicon.svg")
    for url in [reverse("login"), reverse("api-docs"), reverse("api-redoc")]:
        if url != reverse("login"):
            client.force_login(StaffFactory(tenant=ClubFactory().tenant).user)
        assert '<link rel="icon" href="/static/favicon.svg"' in client.get(url).content.decode(), url


def test_navigation_links_to_the_api_docs_and_to_the_admin_for_tenant_admins_only(client):
    club = ClubFactory()
    # Made the way tenant admins are made (the service gives them the admin's is_staff flag).
    admin, _ = staff_create(tenant_id=club.tenant_id, username="ada", password="pass1234", role="ADMIN",
                            check_password=False)
    staff, _ = staff_create(tenant_id=club.tenant_id, username="sid", password="pass1234", check_password=False)
    for user, sees_admin in [(admin, True), (staff, False)]:
        client.force_login(user)
        nav = client.get(reverse("dashboard")).content.decode().split('<nav class="mainnav"')[1].split("</nav>")[0]
        assert f'href="{reverse("api-docs")}"' in nav
        assert (f'href="{reverse("admin:index")}"' in nav) is sees_admin, user
