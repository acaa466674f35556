"""History of connections and promotions: actors, no token ever copied, tenant-scoped in admin."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient

from connections.models import SocialConnection
from connections.services import connection_deactivate, connection_mark_needs_reconnect
from connections.tests.factories import SocialConnectionFactory
from crm.history import acting, history_entries
from crm.models import StaffRole
from crm.services import staff_create
from crm.tests.factories import ClubFactory, StaffFactory
from promotions.models import EventPromotion
from promotions.services import promotion_delete, promotion_set_active, promotion_update
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db

ACCESS, REFRESH = "sealed-access-Zq81", "sealed-refresh-Kp44"


def test_connection_history_never_holds_a_token(club):
    historical = SocialConnection.history.model
    names = {f.name for f in historical._meta.get_fields()}
    assert not names & {"access_token", "refresh_token"}
    connection = SocialConnectionFactory(club=club, tenant=club.tenant, tokens=(ACCESS, REFRESH))
    connection.set_tokens(access_token=ACCESS + "-2", refresh_token=REFRESH + "-2")
    connection.save()
    connection_deactivate(connection=connection, by="anna")
    rows = list(historical.objects.filter(id=connection.pk).values())
    assert len(rows) >= 3
    dumped = repr(rows) + repr([str(r) for r in historical.objects.all()])
    for secret in (ACCESS, REFRESH, "plain-access", connection.access_token, connection.refresh_token):
        assert secret not in dumped


def test_connection_history_pages_admin_and_api_show_no_token(client, club):
    admin_user = staff_create(tenant_id=club.tenant_id, username="anna", password="pw-1234567x",
                              role=StaffRole.ADMIN)[0]
    admin_user.is_staff = True
    admin_user.save()
    connection = SocialConnectionFactory(club=club, tenant=club.tenant, tokens=(ACCESS, REFRESH))
    connection_deactivate(connection=connection, by="anna")
    client.force_login(admin_user)
    model = SocialConnection.history.model
    answers = [
        client.get(reverse("connections:detail", args=[connection.pk])),
        client.get(reverse(f"admin:connections_{model._meta.model_name}_changelist")),
        client.get(reverse(f"admin:connections_{model._meta.model_name}_change",
                           args=[model.objects.filter(id=connection.pk).first().pk])),
    ]
    api = APIClient()
    api.force_authenticate(admin_user)
    answers.append(api.get(reverse("connection-history", args=[connection.pk])))
    for answer in answers:
        assert answer.status_code == 200
        body = answer.content.decode()
        assert ACCESS not in body and REFRESH not in body and connection.access_token not in body
    assert "anna deactivated it" in answers[0].content.decode()


def test_the_system_is_named_for_jobs_and_people_for_their_actions(club):
    connection = SocialConnectionFactory(club=club, tenant=club.tenant)
    connection_mark_needs_reconnect(connection=connection, reason="Token revoked")
    anna = StaffFactory(tenant=club.tenant, user__username="anna").user
    with acting(anna, "renamed it"):
        connection.account_name = "Club page (main)"
        connection.save()
    assert [e.sentence for e in history_entries(instance=connection)][:2] == [
        "anna renamed it", "system marked it as needing reconnection"]


def test_promotion_history_records_edits_pauses_and_deletion(club):
    anna = StaffFactory(tenant=club.tenant, user__username="anna").user
    promotion = EventPromotionFactory(club=club, source_type="SPECIAL")
    promotion_update(promotion=promotion, by=anna, event_location="New Course")
    promotion_set_active(promotion=promotion, active=False, by=anna)
    assert [e.sentence for e in history_entries(instance=promotion)][:2] == ["anna paused it", "anna edited it"]
    pk = promotion.pk
    promotion_delete(promotion=promotion, by=anna)
    last = EventPromotion.history.model.objects.filter(id=pk).order_by("-history_date").first()
    assert (last.history_type, last.history_actor) == ("-", "anna")


def test_history_admin_shows_only_the_admins_own_tenant(client):
    mine, theirs = ClubFactory(), ClubFactory()
    EventPromotionFactory(club=mine, event_name="Our Spring Medal")
    EventPromotionFactory(club=theirs, event_name="Their Autumn Medal")
    SocialConnectionFactory(club=theirs, tenant=theirs.tenant, account_name="Their page")
    admin_user = staff_create(tenant_id=mine.tenant_id, username="anna", password="pw-1234567x",
                              role=StaffRole.ADMIN)[0]
    get_user_model().objects.filter(pk=admin_user.pk).update(is_staff=True)
    client.force_login(admin_user)
    promotions = client.get(reverse("admin:promotions_historicaleventpromotion_changelist")).content.decode()
    assert "Our Spring Medal" in promotions and "Their Autumn Medal" not in promotions
    connections = client.get(reverse("admin:connections_historicalsocialconnection_changelist")).content.decode()
    assert "Their page" not in connections
    foreign = EventPromotion.history.model.objects.get(event_name="Their Autumn Medal")
    answer = client.get(reverse("admin:promotions_historicaleventpromotion_change", args=[foreign.pk]))
    assert answer.status_code in (302, 404) and "Their Autumn Medal" not in answer.content.decode()


def test_promotion_page_shows_history_to_admins_only(client, club):
    promotion = EventPromotionFactory(club=club, event_name="Club Championship", source_type="SPECIAL")
    admin_user = StaffFactory(tenant=club.tenant, role=StaffRole.ADMIN, user__username="anna").user
    staff = StaffFactory(tenant=club.tenant, user__username="sam").user
    promotion_update(promotion=promotion, by=admin_user, event_location="North Course")
    client.force_login(admin_user)
    assert "anna edited it, " in client.get(reverse("promotions:detail", args=[promotion.pk])).content.decode()
    client.force_login(staff)
    assert 'id="history"' not in client.get(reverse("promotions:detail", args=[promotion.pk])).content.decode()
    api = APIClient()
    api.force_authenticate(staff)
    assert api.get(reverse("promotion-history", args=[promotion.pk])).status_code == 403
