import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from connections.tests.factories import SocialConnectionFactory
from crm.models import StaffRole
from crm.services import staff_create
from crm.tests.factories import CampaignFactory, ClubFactory, StaffFactory
from posts.tests.factories import SocialPostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenants():
    club_a, club_b = ClubFactory(), ClubFactory()
    return {
        "a": {"club": club_a, "conn": SocialConnectionFactory(club=club_a, tokens=("tenant-a-secret", None))},
        "b": {"club": club_b, "conn": SocialConnectionFactory(club=club_b, tokens=("tenant-b-secret", None))},
    }


def api_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_api_lists_only_the_users_tenant(two_tenants):
    user = StaffFactory(tenant=two_tenants["b"]["club"].tenant).user
    client = api_for(user)
    ids = [row["id"] for row in client.get("/api/v1/connections/").json()["results"]]
    assert ids == [str(two_tenants["b"]["conn"].pk)]
    assert client.get(f"/api/v1/connections/{two_tenants['a']['conn'].pk}/").status_code == 404


def test_api_posts_and_campaigns_are_scoped(two_tenants):
    post_a = SocialPostFactory(connection=two_tenants["a"]["conn"])
    campaign_a = CampaignFactory(tenant=two_tenants["a"]["club"].tenant)
    client = api_for(StaffFactory(tenant=two_tenants["b"]["club"].tenant).user)
    assert client.get("/api/v1/posts/").json()["results"] == []
    assert client.get(f"/api/v1/posts/{post_a.pk}/").status_code == 404
    assert client.get(f"/api/v1/campaigns/{campaign_a.pk}/").status_code == 404


def test_club_limited_staff_see_their_clubs_and_tenant_wide_rows():
    club_one = ClubFactory()
    club_two = ClubFactory(tenant=club_one.tenant)
    mine = SocialConnectionFactory(club=club_one)
    theirs = SocialConnectionFactory(club=club_two)
    shared = SocialConnectionFactory(club=None, tenant=club_one.tenant)
    user = StaffFactory(tenant=club_one.tenant, clubs=[club_one]).user
    ids = {row["id"] for row in api_for(user).get("/api/v1/connections/").json()["results"]}
    assert ids == {str(mine.pk), str(shared.pk)}
    assert str(theirs.pk) not in ids


def test_user_without_membership_gets_nothing(two_tenants, django_user_model):
    user = django_user_model.objects.create_user("loner", password="x")
    assert api_for(user).get("/api/v1/connections/").status_code == 403


def test_api_never_returns_token_material(two_tenants):
    conn = two_tenants["a"]["conn"]
    client = api_for(StaffFactory(tenant=conn.tenant).user)
    for url in ("/api/v1/connections/", f"/api/v1/connections/{conn.pk}/"):
        body = client.get(url).content.decode()
        assert "tenant-a-secret" not in body and conn.access_token not in body and "access_token" not in body


def test_admin_is_scoped_for_tenant_admins_and_hides_tokens(client, two_tenants):
    tenant_a = two_tenants["a"]["club"].tenant
    staff_create(tenant_id=tenant_a.pk, username="boss", password="pw-123456", role=StaffRole.ADMIN)
    client.login(username="boss", password="pw-123456")
    listing = client.get(reverse("admin:connections_socialconnection_changelist")).content.decode()
    assert two_tenants["a"]["conn"].account_name in listing
    assert two_tenants["b"]["conn"].account_name not in listing
    other = client.get(reverse("admin:connections_socialconnection_change", args=[two_tenants["b"]["conn"].pk]))
    assert other.status_code == 302  # Django admin redirects a missing object to the index
    page = client.get(reverse("admin:connections_socialconnection_change", args=[two_tenants["a"]["conn"].pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "tenant-a-secret" not in body and two_tenants["a"]["conn"].access_token not in body


def test_superuser_sees_every_tenant_in_admin(admin_client, two_tenants):
    listing = admin_client.get(reverse("admin:connections_socialconnection_changelist")).content.decode()
    assert two_tenants["a"]["conn"].account_name in listing and two_tenants["b"]["conn"].account_name in listing
