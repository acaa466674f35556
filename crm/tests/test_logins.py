"""Brute-force protection, expiring and revocable API tokens, and password rules for staff logins."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token, TokenProxy
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from crm.models import StaffMembership, StaffRole
from crm.tests.factories import StaffFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed attempts; try again in 15 minutes."


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def _staff(tenant, username, role=StaffRole.STAFF):
    return StaffFactory(tenant=tenant, user__username=username, role=role).user


# ----------------------------------------------------------------------------- lockout


def test_login_page_locks_a_username_and_address_after_repeated_failures(tenant):
    _staff(tenant, "kim")
    _staff(tenant, "lee")
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(4):
        wrong = client.post(reverse("login"), {"username": "kim", "password": "guess"})
        assert wrong.status_code == 200 and b"do not match" in wrong.content
    fifth = client.post(reverse("login"), {"username": "kim", "password": "guess"})
    assert fifth.status_code == 429 and LOCKED in fifth.content.decode()

    # Even the right password is refused while the lockout lasts, with the same clear message.
    right = client.post(reverse("login"), {"username": "kim", "password": "pass1234"})
    assert right.status_code == 429 and LOCKED in right.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302  # still not logged in

    # Another user from the same address, and the same user from elsewhere, are not locked out.
    assert client.post(reverse("login"), {"username": "lee", "password": "pass1234"}).status_code == 302
    elsewhere = Client(REMOTE_ADDR="198.51.100.4")
    assert elsewhere.post(reverse("login"), {"username": "kim", "password": "pass1234"}).status_code == 302


def test_admin_login_locks_out_after_repeated_failures(tenant):
    boss = _staff(tenant, "boss", role=StaffRole.ADMIN)
    boss.is_staff = True
    boss.save()
    client = Client(REMOTE_ADDR="203.0.113.8")
    url = reverse("admin:login")
    for _ in range(4):
        assert client.post(url, {"username": "boss", "password": "guess"}).status_code == 200
    fifth = client.post(url, {"username": "boss", "password": "guess"})
    assert fifth.status_code == 429 and LOCKED in fifth.content.decode()
    right = client.post(url, {"username": "boss", "password": "pass1234"})
    assert right.status_code == 429 and LOCKED in right.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302  # redirected to the login: not in


def test_token_endpoint_locks_out_with_a_json_answer(tenant):
    _staff(tenant, "api-kim")
    _staff(tenant, "api-lee")
    api = APIClient(REMOTE_ADDR="203.0.113.9")
    url = reverse("api-token")
    for _ in range(4):
        wrong = api.post(url, {"username": "api-kim", "password": "guess"}, format="json")
        assert wrong.status_code == 400
    locked = api.post(url, {"username": "api-kim", "password": "guess"}, format="json")
    assert locked.status_code == 429 and locked.json() == {"detail": LOCKED}
    assert locked["Retry-After"] == str(15 * 60)
    right = api.post(url, {"username": "api-kim", "password": "pass1234"}, format="json")
    assert right.status_code == 429 and "token" not in right.json()
    assert not Token.objects.filter(user__username="api-kim").exists()
    other = api.post(url, {"username": "api-lee", "password": "pass1234"}, format="json")
    assert other.status_code == 200 and other.json()["token"]


def test_token_endpoint_is_throttled(tenant, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"token": "3/min", "events": "600/min"})
    _staff(tenant, "api-sam")
    api = APIClient(REMOTE_ADDR="203.0.113.10")
    answers = [api.post(reverse("api-token"), {"username": "nobody", "password": "x"}, format="json").status_code
               for _ in range(4)]
    assert answers == [400, 400, 400, 429]


def test_events_endpoint_is_throttled(monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"token": "10/min", "events": "2/min"})
    api = APIClient(REMOTE_ADDR="203.0.113.11")
    answers = [api.post(reverse("inbound-events"), {}, format="json").status_code for _ in range(3)]
    assert answers[:2] != [429, 429] and answers[2] == 429


def test_token_endpoint_refuses_missing_fields_clearly():
    answer = APIClient().post(reverse("api-token"), {"username": "someone"}, format="json")
    assert answer.status_code == 400 and "password" in answer.json()["fields"]


# ----------------------------------------------------------------------------- tokens


def _token_for(api, username):
    answer = api.post(reverse("api-token"), {"username": username, "password": "pass1234"}, format="json")
    assert answer.status_code == 200
    return answer.json()


def test_api_tokens_expire_and_a_new_one_is_issued(tenant, settings):
    settings.API_TOKEN_TTL_DAYS = 90
    _staff(tenant, "api-ada")
    api = APIClient()
    first = _token_for(api, "api-ada")
    api.credentials(HTTP_AUTHORIZATION=f"Token {first['token']}")
    assert api.get("/api/v1/posts/").status_code == 200

    Token.objects.filter(key=first["token"]).update(created=Token.objects.get(key=first["token"]).created - timedelta(days=91))
    expired = api.get("/api/v1/posts/")
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]

    second = _token_for(APIClient(), "api-ada")
    assert second["token"] != first["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {second['token']}")
    assert api.get("/api/v1/posts/").status_code == 200


def test_a_user_revokes_their_own_token(tenant):
    _staff(tenant, "api-bo")
    api = APIClient()
    key = _token_for(api, "api-bo")["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.delete(reverse("api-token")).status_code == 204
    assert not Token.objects.filter(key=key).exists()
    assert api.get("/api/v1/posts/").status_code == 401
    assert APIClient().delete(reverse("api-token")).status_code == 401


def test_admin_lists_tokens_without_their_keys_and_revokes_them(admin_client, tenant):
    assert not admin.site.is_registered(TokenProxy)
    token = Token.objects.create(user=_staff(tenant, "api-cy"))
    listing = admin_client.get(reverse("admin:crm_apitoken_changelist")).content.decode()
    assert "api-cy" in listing and token.key[:4] in listing and token.key not in listing
    detail = admin_client.get(reverse("admin:crm_apitoken_change", args=[token.user_id])).content.decode()
    assert "api-cy" in detail and token.key not in detail
    confirm = admin_client.get(reverse("admin:crm_apitoken_delete", args=[token.user_id])).content.decode()
    assert token.key not in confirm
    admin_client.post(reverse("admin:crm_apitoken_delete", args=[token.user_id]), {"post": "yes"})
    assert not Token.objects.filter(pk=token.pk).exists()


def test_tenant_admin_sees_only_their_tenants_tokens(tenant):
    from crm.services import staff_create

    staff_create(tenant_id=tenant.pk, username="chief", password="fairway-Birdie-42", role=StaffRole.ADMIN)
    mine = Token.objects.create(user=_staff(tenant, "api-mine"))
    theirs = Token.objects.create(user=StaffFactory(tenant=TenantFactory(), user__username="api-theirs").user)
    client = Client()
    assert client.login(username="chief", password="fairway-Birdie-42")
    listing = client.get(reverse("admin:crm_apitoken_changelist"))
    assert listing.status_code == 200
    body = listing.content.decode()
    assert "api-mine" in body and "api-theirs" not in body
    assert mine.key not in body
    assert client.get(reverse("admin:crm_apitoken_change", args=[theirs.user_id])).status_code == 302
    client.post(reverse("admin:crm_apitoken_delete", args=[theirs.user_id]), {"post": "yes"})
    assert Token.objects.filter(pk=theirs.pk).exists()


# ----------------------------------------------------------------------------- create_staff


def test_create_staff_refuses_a_weak_password(tenant):
    with pytest.raises(CommandError) as refused:
        call_command("create_staff", "--tenant", tenant.pk, "--username", "weak", "--password", "1")
    assert "too short" in str(refused.value) and "entirely numeric" in str(refused.value)
    assert not StaffMembership.objects.filter(user__username="weak").exists()
    with pytest.raises(CommandError, match="too common"):
        call_command("create_staff", "--tenant", tenant.pk, "--username", "weak", "--password", "password123")
    call_command("create_staff", "--tenant", tenant.pk, "--username", "strong", "--password", "fairway-Birdie-42")
    assert UserFactory._meta.model.objects.get(username="strong").check_password("fairway-Birdie-42")
