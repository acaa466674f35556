import datetime
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import HttpResponse
from django.urls import reverse
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from connections.tests.factories import SocialConnectionFactory
from crm.models import Member, StaffMembership
from crm.tests.factories import ClubFactory, StaffFactory
from posts.tests.factories import SocialPostFactory

pytestmark = pytest.mark.django_db
NAV_PAGES = ["dashboard", "connections:list", "posts:list", "posts:calendar", "promotions:list", "campaigns:list"]


def test_pages_need_login(client):
    for name in NAV_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_every_navigation_page_renders(client, club):
    user = StaffFactory(tenant=club.tenant).user
    client.force_login(user)
    for name in NAV_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        body = response.content.decode()
        for label in ("Dashboard", "Connections", "Posts", "Calendar", "Promotions", "Campaigns"):
            assert label in body


def test_login_and_logout(client, club):
    StaffFactory(tenant=club.tenant, user__username="kim")
    response = client.post(reverse("login"), {"username": "kim", "password": "pass1234"}, follow=True)
    assert response.status_code == 200 and b"Dashboard" in response.content
    bad = client.post(reverse("logout"))
    assert bad.status_code == 302
    wrong = client.post(reverse("login"), {"username": "kim", "password": "nope"})
    assert b"do not match" in wrong.content


def test_times_are_shown_in_the_clubs_timezone(client):
    club = ClubFactory(timezone="Australia/Sydney")
    connection = SocialConnectionFactory(club=club)
    # 23:30 UTC on 1 June is 09:30 the next morning in Sydney (AEST, +10).
    when = datetime.datetime(2030, 6, 1, 23, 30, tzinfo=datetime.UTC)
    SocialPostFactory(connection=connection, status="SCHEDULED", scheduled_at=when, content="Sunrise medal")
    client.force_login(StaffFactory(tenant=club.tenant).user)
    body = client.get(reverse("posts:list")).content.decode()
    assert "Sun 2 Jun 2030, 09:30" in body and "Australia/Sydney" in body


def test_club_switcher_for_staff_with_several_clubs(client):
    first = ClubFactory(name="Alpha Links", timezone="Europe/London")
    second = ClubFactory(tenant=first.tenant, name="Beta Park", timezone="America/New_York")
    client.force_login(StaffFactory(tenant=first.tenant).user)
    page = client.get(reverse("dashboard")).content.decode()
    assert 'id="club-switch"' in page and "Beta Park" in page
    client.post(reverse("switch-club"), {"club": second.pk, "next": "/posts/"})
    assert "America/New_York" in client.get(reverse("dashboard")).content.decode()
    other_tenant_club = ClubFactory()
    client.post(reverse("switch-club"), {"club": other_tenant_club.pk, "next": "https://evil.example/"})
    assert "America/New_York" in client.get(reverse("dashboard")).content.decode()


def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}
    assert response["X-Request-ID"]


def test_api_token_auth_and_schema(club):
    StaffFactory(tenant=club.tenant, user__username="api-user")
    client = APIClient()
    bad = client.post("/api/v1/auth/token/", {"username": "api-user", "password": "wrong"}, format="json")
    assert bad.status_code == 400
    token = client.post("/api/v1/auth/token/", {"username": "api-user", "password": "pass1234"}, format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    listing = client.get("/api/v1/posts/")
    assert listing.status_code == 200 and set(listing.json()) == {"next", "previous", "results"}
    assert APIClient().get("/api/v1/posts/").status_code == 401
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert {"/api/v1/connections/", "/api/v1/posts/", "/api/v1/promotions/", "/api/v1/campaigns/"} <= set(paths)
    assert client.get("/api/docs/").status_code == 200


def test_seed_demo_is_idempotent():
    call_command("seed_demo")
    call_command("seed_demo")
    assert Member.objects.filter(tenant_id="demo").count() == 200
    membership = StaffMembership.objects.get(user__username="demo")
    assert membership.user.check_password("demo") and membership.is_admin
    consents = set(Member.objects.filter(tenant_id="demo").values_list("email_consent", "sms_consent"))
    assert len(consents) == 4
    from promotions.models import EventPromotion

    promotion = EventPromotion.objects.get(tenant_id="demo")
    assert promotion.dispatches.filter(status="PLANNED").count() == 4 * len(promotion.channels)


def test_create_staff_command(capsys):
    call_command("seed_demo")
    call_command("create_staff", "--tenant", "demo", "--username", "pro", "--password", "fairway-Birdie-42", "--club", "pinewood")
    membership = StaffMembership.objects.get(user__username="pro")
    assert list(membership.clubs.values_list("pk", flat=True)) == ["pinewood"]
    with pytest.raises(CommandError, match="does not exist"):
        call_command("create_staff", "--tenant", "nope", "--username", "x", "--password", "y")
    with pytest.raises(CommandError, match="do not belong"):
        call_command("create_staff", "--tenant", "demo", "--username", "x", "--password", "y", "--club", "elsewhere")


def test_setup_periodic_tasks_is_idempotent():
    call_command("setup_periodic_tasks")
    first = set(PeriodicTask.objects.values_list("name", "task"))
    call_command("setup_periodic_tasks")
    assert set(PeriodicTask.objects.values_list("name", "task")) == first
    assert {"posts.publish_due_posts", "connections.refresh_expiring_tokens", "promotions.dispatch_due"} <= {t for _, t in first}


def test_request_id_is_returned_and_carried_by_log_lines(client, club, rf):
    client.force_login(StaffFactory(tenant=club.tenant).user)
    response = client.get(reverse("dashboard"), HTTP_X_REQUEST_ID="req-123")
    assert response["X-Request-ID"] == "req-123"

    import io
    import logging

    from socialcrm.observability import ContextFilter, JsonFormatter, RequestIdMiddleware

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("socialcrm.test.requestid")
    logger.addHandler(handler)
    try:
        def view(request):
            logger.warning("inside the request")
            return HttpResponse("ok")

        RequestIdMiddleware(view)(rf.get("/", HTTP_X_REQUEST_ID="req-456"))
        logger.warning("after the request")
    finally:
        logger.removeHandler(handler)
    inside, after = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["request_id"] == "req-456" and inside["message"] == "inside the request"
    assert "request_id" not in after
