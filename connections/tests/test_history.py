"""A connection's history: who connected it (through the real sign-in), the system renewing it, never a token."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from connections import tasks
from connections.models import SocialConnection
from connections.tests.helpers import connect
from crm.history import history_entries
from crm.tests.factories import ClubFactory, StaffFactory
from simulator import world

pytestmark = pytest.mark.django_db


def test_connecting_and_renewing_are_recorded_without_tokens(simulator_settings, settings, simulator):
    settings.SITE_URL = "http://testserver"
    club = ClubFactory()
    user = StaffFactory(tenant=club.tenant, user__username="kim", user__first_name="Kim").user
    client = Client()
    client.force_login(user)
    connect(client, "twitter", [world.X_USER_ID])
    conn = SocialConnection.objects.get(account_id=world.X_USER_ID)
    first_tokens = (conn.reveal_access_token(), conn.reveal_refresh_token())
    simulator.advance_clock(7200 - 10 * 60)
    SocialConnection.objects.filter(pk=conn.pk).update(token_expiry=timezone.now() + timedelta(minutes=10))
    assert tasks.refresh_connection_tokens(connection_id=str(conn.pk), tenant_id=conn.tenant_id) == "refreshed"
    conn.refresh_from_db()
    sentences = [e.sentence for e in reversed(history_entries(instance=conn))]
    assert sentences[0] == "Kim created it" and sentences[-1] == "system renewed its access"
    stored = repr(list(SocialConnection.history.model.objects.filter(id=conn.pk).values()))
    for secret in (*first_tokens, conn.reveal_access_token(), conn.reveal_refresh_token(), conn.access_token):
        assert secret not in stored
