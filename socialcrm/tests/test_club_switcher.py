"""Which club staff are looking at has one source: the header's club switcher. A page's ?club= moves it."""

import re

import pytest
from django.urls import reverse

from connections.tests.factories import SocialConnectionFactory
from crm.middleware import SESSION_KEY
from crm.tests.factories import ClubFactory, StaffFactory
from posts.tests.factories import SocialPostFactory
from promotions.tests.factories import EventPromotionFactory

pytestmark = pytest.mark.django_db

CLUB_PAGES = ["dashboard", "posts:list", "posts:calendar", "promotions:list"]


@pytest.fixture
def two_clubs(client):
    alpha = ClubFactory(id="alpha-links", name="Alpha Links", timezone="Europe/London")
    beta = ClubFactory(id="beta-park", tenant=alpha.tenant, name="Beta Park", timezone="America/New_York")
    SocialPostFactory(connection=SocialConnectionFactory(club=alpha, account_name="Alpha page"), content="Alpha medal")
    SocialPostFactory(connection=SocialConnectionFactory(club=beta, account_name="Beta page"), content="Beta medal")
    client.force_login(StaffFactory(tenant=alpha.tenant).user)
    return alpha, beta


def switcher_choice(body):
    """The club the header's switcher shows as chosen."""
    select = re.search(r'<select id="club-switch".*?</select>', body, re.S).group(0)
    return re.search(r'<option value="([^"]+)" selected', select).group(1)


def test_the_posts_list_has_no_club_filter_of_its_own(client, two_clubs):
    body = client.get(reverse("posts:list")).content.decode()
    filters = re.search(r'<form method="get" class="toolbar" id="post-filters">.*?</form>', body, re.S).group(0)
    assert 'name="club"' not in filters
    assert "Alpha medal" in body and "Beta medal" not in body
    assert "Posts of Alpha Links and of accounts shared by every club" in body


def test_a_club_in_the_posts_list_address_is_the_club_the_switcher_shows(client, two_clubs):
    alpha, beta = two_clubs
    body = client.get(reverse("posts:list"), {"club": beta.pk}).content.decode()
    # The list shows that club's posts (it used to intersect the two and show nothing) ...
    assert "Beta medal" in body and "Alpha medal" not in body
    # ... and the header agrees, on this page and on the next without the parameter.
    assert switcher_choice(body) == beta.pk
    assert client.session[SESSION_KEY] == beta.pk
    after = client.get(reverse("posts:list")).content.decode()
    assert "Beta medal" in after and switcher_choice(after) == beta.pk


@pytest.mark.parametrize("page", CLUB_PAGES)
def test_every_club_page_follows_a_club_in_its_address(client, two_clubs, page):
    alpha, beta = two_clubs
    EventPromotionFactory(club=alpha, event_name="Alpha open")
    EventPromotionFactory(club=beta, event_name="Beta open")
    body = client.get(reverse(page), {"club": beta.pk}).content.decode()
    assert switcher_choice(body) == beta.pk and "America/New_York" in body
    assert client.session[SESSION_KEY] == beta.pk
    if page == "promotions:list":
        assert "Beta open" in body and "Alpha open" not in body
    body = client.get(reverse("dashboard")).content.decode()
    assert switcher_choice(body) == beta.pk


@pytest.mark.parametrize("page", CLUB_PAGES)
def test_a_club_that_is_not_the_users_changes_nothing_and_is_said_so(client, two_clubs, page):
    alpha, beta = two_clubs
    client.get(reverse(page), {"club": beta.pk})
    foreign = ClubFactory(id="elsewhere", name="Elsewhere Golf")
    for unknown in (foreign.pk, "no-such-club"):
        response = client.get(reverse(page), {"club": unknown})
        body = response.content.decode()
        assert response.status_code == 200
        assert "That club is not one of yours; showing Beta Park." in body
        assert "Elsewhere Golf" not in body
        assert switcher_choice(body) == beta.pk and client.session[SESSION_KEY] == beta.pk


def test_a_club_limited_user_cannot_reach_another_club_by_address(client, two_clubs):
    alpha, beta = two_clubs
    limited = StaffFactory(tenant=alpha.tenant, clubs=[alpha])
    client.force_login(limited.user)
    body = client.get(reverse("posts:list"), {"club": beta.pk}).content.decode()
    assert "Alpha medal" in body and "Beta medal" not in body
    assert "That club is not one of yours; showing Alpha Links." in body


def test_switching_in_the_header_drops_the_club_the_address_named(client, two_clubs):
    alpha, beta = two_clubs
    client.get(reverse("posts:list"), {"club": beta.pk, "status": "DRAFT"})
    response = client.post(reverse("switch-club"), {"club": alpha.pk, "next": f"/posts/?club={beta.pk}&status=DRAFT"})
    # Back on the list with its other filters, and on the club just picked (not switched straight back).
    assert response["Location"] == "/posts/?status=DRAFT"
    body = client.get(response["Location"]).content.decode()
    assert switcher_choice(body) == alpha.pk and "Alpha medal" in body and "Beta medal" not in body


def test_a_bulk_action_posted_to_an_address_with_a_club_switches_nothing(client, two_clubs):
    alpha, beta = two_clubs
    client.post(f"{reverse('posts:list')}?club={beta.pk}", {"bulk": "cancel"})
    assert client.session.get(SESSION_KEY) in (None, alpha.pk)
