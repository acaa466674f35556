import pytest
from django.test import Client
from django.urls import reverse

from crm.models import StaffRole
from crm.services import staff_create
from crm.tests.factories import ClubFactory, StaffFactory

pytestmark = pytest.mark.django_db


def test_tenant_admin_sees_and_rotates_the_event_signing_secret():
    club = ClubFactory()
    staff_create(tenant_id=club.tenant_id, username="boss", password="pw-123456", role=StaffRole.ADMIN)
    client = Client()
    client.login(username="boss", password="pw-123456")
    old = club.tenant.inbound_event_secret
    assert old in client.get(reverse("promotions:settings")).content.decode()
    client.post(reverse("promotions:rotate-secret"))
    club.tenant.refresh_from_db()
    assert club.tenant.inbound_event_secret != old


def test_staff_cannot_see_or_rotate_the_secret():
    club = ClubFactory()
    client = Client()
    client.force_login(StaffFactory(tenant=club.tenant).user)
    old = club.tenant.inbound_event_secret
    page = client.get(reverse("promotions:settings"))
    assert page.status_code == 403 and old not in page.content.decode()
    assert client.post(reverse("promotions:rotate-secret")).status_code == 403
    club.tenant.refresh_from_db()
    assert club.tenant.inbound_event_secret == old
