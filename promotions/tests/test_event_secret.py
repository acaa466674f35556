from pathlib import Path

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


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def boss():
    club = ClubFactory()
    staff_create(tenant_id=club.tenant_id, username="boss", password="pw-123456", role=StaffRole.ADMIN)
    client = Client()
    client.login(username="boss", password="pw-123456")
    return client, club.tenant


def test_the_admin_says_where_the_secret_is_without_showing_it(boss):
    client, tenant = boss
    page = client.get(reverse("admin:crm_tenant_change", args=[tenant.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert tenant.inbound_event_secret not in body
    assert "Event signing secret" in body
    assert f'href="{reverse("promotions:settings")}"' in body and "Promotion defaults" in body


def test_the_readme_sends_admins_to_the_page_that_shows_and_renews_the_secret(boss):
    client, tenant = boss
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Inbound events"):]
    section = section[:section.index("\n## ", 3)]
    # Where the README says it is ...
    assert f"(`{reverse('promotions:settings')}`)" in section
    assert "**Promotions → Promotion defaults and event signing secret**" in section
    assert "**Generate a new secret**" in section
    assert "shown to superusers in admin" not in section and "never shows the secret" in section
    # ... is where the pages put it: the admin's button on the promotions list leads there, and it shows and renews.
    listing = client.get(reverse("promotions:list")).content.decode()
    assert (f'href="{reverse("promotions:settings")}">Promotion defaults and event signing secret</a>') in listing
    page = client.get(reverse("promotions:settings")).content.decode()
    assert tenant.inbound_event_secret in page and "Generate a new secret" in page
    assert f"<code>{tenant.pk}</code>" in page and "/api/v1/events/" in page
