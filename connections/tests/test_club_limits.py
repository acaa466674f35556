"""Staff limited to some clubs cannot take over a connection of another club, or a tenant-wide one."""

import pytest
from django.test import Client

from connections.models import SocialConnection
from connections.tests.factories import SocialConnectionFactory
from connections.tests.helpers import back_from_platform, connect, start
from crm.tests.factories import ClubFactory, StaffFactory
from platforms.tests.contract import click_consent
from simulator import world

pytestmark = pytest.mark.django_db


@pytest.fixture
def clubs(simulator_settings, settings):
    settings.SITE_URL = "http://testserver"
    mine = ClubFactory(name="Pinewood Golf Club")
    theirs = ClubFactory(tenant=mine.tenant, name="Oakfield Golf Club")
    return {"mine": mine, "theirs": theirs, "tenant": mine.tenant}


def limited_client(clubs):
    client = Client()
    client.force_login(StaffFactory(tenant=clubs["tenant"], clubs=[clubs["mine"]], user__username="sam").user)
    return client


@pytest.mark.parametrize("owner", ["theirs", None])
def test_club_limited_staff_cannot_move_a_connection_they_do_not_own(clubs, simulator, owner):
    existing = SocialConnectionFactory(club=clubs[owner] if owner else None, tenant=clubs["tenant"],
                                       account_id=world.PAGE_MAIN_ID, account_name="Main page",
                                       tokens=("their-token", None))
    before = SocialConnection.objects.values().get(pk=existing.pk)
    response = connect(limited_client(clubs), "facebook", [world.PAGE_MAIN_ID], club=clubs["mine"].pk)
    assert response.status_code == 400
    body = response.content.decode()
    assert "already connected for" in body and "Nothing was changed" in body
    assert SocialConnection.objects.values().get(pk=existing.pk) == before
    assert SocialConnection.objects.get(pk=existing.pk).reveal_access_token() == "their-token"


def test_club_limited_staff_cannot_take_another_clubs_connection_to_the_whole_tenant(clubs, simulator):
    existing = SocialConnectionFactory(club=clubs["theirs"], account_id=world.PAGE_MAIN_ID)
    response = connect(limited_client(clubs), "facebook", [world.PAGE_MAIN_ID], club="")
    assert response.status_code == 400
    assert SocialConnection.objects.get(pk=existing.pk).club == clubs["theirs"]


def test_club_limited_staff_reconnect_their_own_clubs_connection(clubs, simulator):
    existing = SocialConnectionFactory(club=clubs["mine"], account_id=world.PAGE_MAIN_ID, tokens=("old", None))
    response = connect(limited_client(clubs), "facebook", [world.PAGE_MAIN_ID], club=clubs["mine"].pk)
    assert response.status_code == 302
    existing.refresh_from_db()
    assert existing.club == clubs["mine"] and existing.reveal_access_token() != "old"


def test_tenant_wide_staff_may_move_a_connection_between_clubs(clubs, simulator):
    existing = SocialConnectionFactory(club=clubs["theirs"], account_id=world.PAGE_MAIN_ID)
    client = Client()
    client.force_login(StaffFactory(tenant=clubs["tenant"]).user)
    assert connect(client, "facebook", [world.PAGE_MAIN_ID], club=clubs["mine"].pk).status_code == 302
    assert SocialConnection.objects.get(pk=existing.pk).club == clubs["mine"]


def test_picker_does_not_show_another_clubs_connection_as_theirs(clubs, simulator):
    SocialConnectionFactory(club=clubs["theirs"], account_id=world.PAGE_MAIN_ID, account_name="Oakfield page")
    client = limited_client(clubs)
    callback = back_from_platform(client, click_consent(start(client, "facebook")))
    page = client.get(callback["Location"]).content.decode()
    assert "Oakfield Golf Club" not in page and "Already connected" not in page
