import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from connections.tests.factories import SocialConnectionFactory
from crm.models import Club, StaffRole, Tenant
from crm.services import staff_create
from crm.tests.factories import CampaignFactory, ClubFactory, MemberFactory
from posts.tests.factories import SocialPostFactory
from promotions.models import PromotionDispatch
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenants():
    mine = Tenant.objects.create(id="mine", name="My Group")
    demo = Tenant.objects.create(id="demo", name="Demo Group", inbound_event_secret="demo-secret")
    return {"mine": mine, "demo": demo, "my_club": ClubFactory(id="my-club", tenant=mine, name="My Links"),
            "demo_club": ClubFactory(id="demo-club", tenant=demo, name="Demo Secret Links")}


@pytest.fixture
def boss(tenants):
    staff_create(tenant_id="mine", username="boss", password="pw-123456", role=StaffRole.ADMIN)
    client = Client()
    assert client.login(username="boss", password="pw-123456")
    return client


def tenant_form(tenant, **changes):
    return {"id": tenant.pk, "name": tenant.name, "default_channels": '["EMAIL"]', "default_reminder_days": "[7]",
            "default_send_time": "09:00", "auto_promote": "on", "time_locale": "en-GB", "sms_price_currency": "EUR",
            "utm_enabled": "on", "utm_medium_social": "social", "utm_medium_email": "email", "utm_medium_sms": "sms",
            **changes}


# ----------------------------------------------------------------------------- finding 2: editable primary keys


def test_tenant_admin_cannot_rename_their_tenant_onto_another(boss, tenants):
    url = reverse("admin:crm_tenant_change", args=["mine"])
    response = boss.post(url, tenant_form(tenants["mine"], id="demo", name="Hijacked"))
    assert response.status_code == 302
    demo = Tenant.objects.get(pk="demo")
    assert demo.name == "Demo Group" and demo.inbound_event_secret == "demo-secret"
    assert Tenant.objects.get(pk="mine").name == "Hijacked"  # the edit applied to their own row only
    assert 'name="id"' not in boss.get(url).content.decode()


def test_tenant_admin_cannot_pull_another_tenants_club_by_changing_an_id(boss, tenants):
    url = reverse("admin:crm_club_change", args=["my-club"])
    response = boss.post(url, {"id": "demo-club", "tenant": "mine", "name": "Taken", "timezone": "UTC", "time_locale": "en-GB"})
    assert response.status_code == 302
    stolen = Club.objects.get(pk="demo-club")
    assert stolen.tenant_id == "demo" and stolen.name == "Demo Secret Links"
    assert Club.objects.get(pk="my-club").name == "Taken"


def test_tenant_admin_adds_a_club_to_their_own_tenant_whatever_the_form_says(boss, tenants):
    response = boss.post(reverse("admin:crm_club_add"),
                         {"id": "picked-id", "tenant": "demo", "name": "New Course", "timezone": "UTC", "time_locale": "en-GB"})
    assert response.status_code == 302
    club = Club.objects.get(name="New Course")
    assert club.tenant_id == "mine" and club.pk != "picked-id"  # generated, never typed
    assert 'name="tenant"' not in boss.get(reverse("admin:crm_club_add")).content.decode()


def test_only_operators_add_or_delete_tenants(boss, admin_client, tenants):
    assert boss.get(reverse("admin:crm_tenant_add")).status_code == 403
    assert boss.post(reverse("admin:crm_tenant_delete", args=["mine"]), {"post": "yes"}).status_code == 403
    assert Tenant.objects.filter(pk="mine").exists()
    assert admin_client.get(reverse("admin:crm_tenant_add")).status_code == 200
    page = admin_client.get(reverse("admin:crm_tenant_change", args=["demo"])).content.decode()
    assert 'name="id"' not in page  # even an operator does not re-key an existing tenant


def test_create_tenant_command_creates_a_tenant_with_its_first_club(db):
    call_command("create_tenant", "--id", "fairway", "--name", "Fairway Group", "--club-name", "Fairway Links",
                 "--timezone", "Europe/Dublin")
    tenant = Tenant.objects.get(pk="fairway")
    club = tenant.clubs.get()
    assert tenant.name == "Fairway Group" and club.name == "Fairway Links" and str(club.timezone) == "Europe/Dublin"
    assert tenant.inbound_event_secret


@pytest.mark.parametrize("args, message", [
    (["--id", "demo"], "--id: Tenant 'demo' already exists"),
    (["--id", "Bad Id!"], "--id: A tenant id is 3 to 64"),
    (["--timezone", "Mars/Olympus"], "--timezone: 'Mars/Olympus' is not a time zone"),
    (["--club-name", " "], "--club-name: The first club's name is required"),
])
def test_create_tenant_command_explains_what_is_wrong(tenants, args, message):
    options = {"--id": "fresh", "--name": "Fresh", "--club-name": "Fresh Links", "--timezone": "UTC"}
    options.update(dict(zip(args[::2], args[1::2])))
    with pytest.raises(CommandError, match=message):
        call_command("create_tenant", *[part for pair in options.items() for part in pair])
    assert Tenant.objects.get(pk="demo").name == "Demo Group"
    assert not Tenant.objects.filter(pk="fresh").exists()


# ----------------------------------------------------------------------------- finding 7: names and existence leaks


def test_admin_filter_sidebars_list_only_the_admins_tenant(boss, tenants):
    MemberFactory(club=tenants["my_club"])
    CampaignFactory(tenant=tenants["demo"], name="Demo Secret Campaign")
    CampaignFactory(tenant=tenants["mine"], name="My Campaign")
    SocialPostFactory(connection=SocialConnectionFactory(club=tenants["my_club"]))
    members = boss.get(reverse("admin:crm_member_changelist")).content.decode()
    posts = boss.get(reverse("admin:posts_socialpost_changelist")).content.decode()
    assert "Demo Secret Links" not in members
    assert "Demo Secret Campaign" not in posts and "My Campaign" in posts


def test_staff_membership_user_choice_lists_only_the_tenants_non_superusers(boss, tenants):
    staff_create(tenant_id="demo", username="demo-staffer", password="pw-123456")
    staff_create(tenant_id="mine", username="my-staffer", password="pw-123456")
    get_user_model().objects.create_superuser("root-operator", password="pw-123456")
    page = boss.get(reverse("admin:crm_staffmembership_add")).content.decode()
    choices = page.split('name="user"')[1].split("</select>")[0]
    assert "my-staffer" in choices
    assert "demo-staffer" not in choices and "root-operator" not in choices


@pytest.mark.parametrize("url, param, make_foreign", [
    ("/api/v1/connections/", "club", lambda t: t["demo_club"].pk),
    ("/api/v1/posts/", "campaign", lambda t: CampaignFactory(tenant=t["demo"]).pk),
    ("/api/v1/posts/", "connection", lambda t: SocialConnectionFactory(club=t["demo_club"]).pk),
    ("/api/v1/dispatches/", "promotion", lambda t: EventPromotionFactory(club=t["demo_club"]).pk),
    ("/api/v1/promotions/", "club", lambda t: t["demo_club"].pk),
    ("/api/v1/campaigns/", "club", lambda t: t["demo_club"].pk),
])
def test_api_filter_answers_a_foreign_id_like_an_unknown_one(tenants, url, param, make_foreign):
    client = APIClient()
    client.force_authenticate(staff_create(tenant_id="mine", username="api-user", password="pw-123456")[0])
    foreign = make_foreign(tenants)
    unknown = "00000000-0000-4000-8000-000000000000" if param != "club" else "no-such-club"
    answers = []
    for value in (foreign, unknown):
        response = client.get(url, {param: str(value)})
        answers.append((response.status_code, response.content.decode().replace(str(value), "<id>")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 400 and "Select a valid choice" in answers[0][1]


def test_api_filter_still_filters_by_the_callers_own_ids(tenants):
    client = APIClient()
    client.force_authenticate(staff_create(tenant_id="mine", username="api-user", password="pw-123456")[0])
    promotion = EventPromotionFactory(club=tenants["my_club"])
    PromotionDispatch.objects.create(tenant=tenants["mine"], promotion=promotion, kind="ANNOUNCEMENT",
                                     channel="EMAIL", scheduled_for=promotion.event_starts_at)
    body = client.get("/api/v1/dispatches/", {"promotion": str(promotion.pk)}).json()
    assert len(body["results"]) == 1


def test_staff_post_list_filters_answer_malformed_and_foreign_ids_alike(tenants):
    client = Client()
    client.force_login(staff_create(tenant_id="mine", username="page-user", password="pw-123456")[0])
    foreign = CampaignFactory(tenant=tenants["demo"])
    for query in ({"campaign": "not-a-uuid"}, {"campaign": str(foreign.pk)}, {"club": "demo-club"}):
        response = client.get(reverse("posts:list"), query)
        assert response.status_code == 200, query
        assert "Demo Secret Links" not in response.content.decode()
