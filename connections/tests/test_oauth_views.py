import logging
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse

from connections.models import OAuthAttempt, SocialConnection
from connections.tests.helpers import back_from_platform, connect, start
from crm.tests.factories import ClubFactory, StaffFactory
from platforms.tests.contract import _FormParser, click_consent
from simulator import world

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(simulator_settings, live_settings):
    club = ClubFactory(name="Pinewood Golf Club")
    membership = StaffFactory(tenant=club.tenant, user__username="alex")
    client = Client()
    client.force_login(membership.user)
    return {"client": client, "club": club, "tenant": club.tenant, "user": membership.user}


@pytest.fixture
def live_settings(settings):
    settings.SITE_URL = "http://testserver"
    return settings


def test_facebook_connect_round_trip_stores_encrypted_page_token(staff, simulator):
    response = connect(staff["client"], "facebook", [world.PAGE_MAIN_ID], club=staff["club"].pk)
    assert response.status_code == 302 and response["Location"] == reverse("connections:list")
    conn = SocialConnection.objects.get(platform="FACEBOOK", account_id=world.PAGE_MAIN_ID)
    assert conn.tenant == staff["tenant"] and conn.club == staff["club"] and conn.is_active
    assert conn.account_name == "Pinewood Golf Club" and conn.account_type == "page"
    assert {"pages_manage_posts", "pages_read_engagement"} <= set(conn.permissions)
    assert conn.connected_by == "alex"
    assert conn.access_token.startswith("v1:") and conn.reveal_access_token()
    listing = staff["client"].get(reverse("connections:list")).content.decode()
    assert "Pinewood Golf Club" in listing and "Active" in listing


def test_picker_marks_pages_that_cannot_post_and_what_is_connected(staff, simulator):
    connect(staff["client"], "facebook", [world.PAGE_MAIN_ID])
    callback = back_from_platform(staff["client"], click_consent(start(staff["client"], "facebook")))
    page = staff["client"].get(callback["Location"]).content.decode()
    assert "Pinewood Pro Shop" in page and "Pinewood Juniors" in page
    assert "Already connected" in page
    pro_shop_row = page.split(f'data-account="{world.PAGE_PRO_SHOP_ID}"')[1].split("</tr>")[0]
    assert "disabled" in pro_shop_row and "create content" in pro_shop_row.lower()


def test_each_platform_connects(staff, simulator):
    for slug, account in [("instagram", world.INSTAGRAM_USER_ID), ("twitter", world.X_USER_ID), ("linkedin", "3001")]:
        assert connect(staff["client"], slug, [account]).status_code == 302, slug
    rows = {c.platform: c for c in SocialConnection.objects.all()}
    assert rows["INSTAGRAM"].account_details["username"] == world.INSTAGRAM_USERNAME
    assert rows["TWITTER"].reveal_refresh_token() and rows["TWITTER"].token_expiry
    assert rows["LINKEDIN"].account_type == "company" and rows["LINKEDIN"].account_name


def test_x_flow_uses_pkce(staff, simulator):
    location = start(staff["client"], "twitter")
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    back_from_platform(staff["client"], click_consent(location))
    token_calls = [r for r in simulator.requests("twitter") if r["path"] == "/2/oauth2/token"]
    assert token_calls and token_calls[-1]["status"] == 200


def test_deny_shows_a_clear_message_and_creates_nothing(staff, simulator):
    response = back_from_platform(staff["client"], click_consent(start(staff["client"], "facebook"), "Deny"))
    assert response.status_code == 400
    body = response.content.decode()
    assert "Access denied" in body and "nothing was connected" in body
    assert not SocialConnection.objects.exists()


def test_state_is_single_use(staff, simulator):
    location = click_consent(start(staff["client"], "linkedin"))
    assert back_from_platform(staff["client"], location).status_code == 302
    again = back_from_platform(staff["client"], location)
    assert again.status_code == 400 and b"no longer valid" in again.content


def test_state_from_another_session_or_user_is_refused(staff, simulator):
    location = click_consent(start(staff["client"], "linkedin"))
    same_user_other_session = Client()
    same_user_other_session.force_login(staff["user"])
    assert back_from_platform(same_user_other_session, location).status_code == 400
    other_user = Client()
    other_user.force_login(StaffFactory(tenant=staff["tenant"]).user)
    assert back_from_platform(other_user, location).status_code == 400
    # The refusals did not spend the state: its own session can still finish.
    assert back_from_platform(staff["client"], location).status_code == 302


def test_expired_state_is_refused(staff, simulator):
    location = click_consent(start(staff["client"], "linkedin"))
    OAuthAttempt.objects.update(created_at="2000-01-01T00:00:00Z")
    assert back_from_platform(staff["client"], location).status_code == 400


def test_reused_code_at_the_platform_is_explained(staff, simulator):
    location = click_consent(start(staff["client"], "facebook"))
    code = parse_qs(urlsplit(location).query)["code"][0]
    # Spend the code first, as a stolen-code replay would.
    second = start(staff["client"], "facebook")
    state = parse_qs(urlsplit(second).query)["state"][0]
    assert back_from_platform(staff["client"], location).status_code == 302
    replay = staff["client"].get(reverse("connections:callback", args=["facebook"]), {"code": code, "state": state})
    assert replay.status_code == 400 and b"refused the sign-in" in replay.content


def test_reconnect_updates_the_row_and_reactivates_it(staff, simulator):
    connect(staff["client"], "twitter", [world.X_USER_ID])
    conn = SocialConnection.objects.get()
    SocialConnection.objects.filter(pk=conn.pk).update(is_active=False, last_error="revoked")
    old_cipher = conn.access_token
    callback = back_from_platform(staff["client"], click_consent(start(staff["client"], "twitter", reconnect=conn.pk)))
    picker = staff["client"].get(callback["Location"]).content.decode()
    assert "checked" in picker.split(f'data-account="{world.X_USER_ID}"')[1].split("</tr>")[0]
    staff["client"].post(callback["Location"], {"account": [world.X_USER_ID]})
    conn.refresh_from_db()
    assert SocialConnection.objects.count() == 1
    assert conn.is_active and conn.last_error is None and conn.access_token != old_cipher


def test_picker_refuses_accounts_not_offered_and_foreign_clubs(staff, simulator):
    callback = back_from_platform(staff["client"], click_consent(start(staff["client"], "linkedin")))
    bad = staff["client"].post(callback["Location"], {"account": ["9999"]})
    assert bad.status_code == 400 and b"Pick at least one" in bad.content
    foreign = ClubFactory()
    bad_club = staff["client"].post(callback["Location"], {"account": ["3001"], "club-3001": foreign.pk})
    assert bad_club.status_code == 400 and b"Pick one of your clubs" in bad_club.content
    assert not SocialConnection.objects.exists()


def test_unknown_platform_and_missing_credentials(staff, settings):
    assert staff["client"].get("/connections/connect/myspace/").status_code == 404
    settings.X_CLIENT_ID = ""
    response = staff["client"].get("/connections/connect/twitter/")
    assert response.status_code == 400 and b"not set up yet" in response.content


def test_missing_permission_is_shown(staff, simulator):
    location = start(staff["client"], "twitter")
    # Untick tweet.write on the consent page, as a person may do.
    narrowed = location.replace("tweet.write", "").replace("tweet.write+", "")
    callback = back_from_platform(staff["client"], click_consent(narrowed))
    assert callback.status_code == 302
    picker = staff["client"].get(callback["Location"]).content.decode()
    # Named as X's consent screen names it; the scope code is never shown.
    assert "Not allowed: “Post and repost for you”" in picker
    assert "tweet.write" not in picker


def test_no_token_in_logs_pages_or_api_during_the_whole_flow(staff, simulator, caplog):
    caplog.set_level(logging.DEBUG)
    for slug, account in [("facebook", world.PAGE_MAIN_ID), ("twitter", world.X_USER_ID), ("linkedin", "3001")]:
        connect(staff["client"], slug, [account])
    pages = [staff["client"].get(url).content.decode() for url in (reverse("connections:list"), "/api/v1/connections/", "/")]
    for conn in SocialConnection.objects.all():
        for secret in filter(None, [conn.reveal_access_token(), conn.reveal_refresh_token()]):
            assert secret not in caplog.text
            for page in pages:
                assert secret not in page


def consent_without(authorization_url, permission):
    """Press Allow on Facebook's consent page with one permission's box unticked; returns the redirect."""
    with requests.Session() as browser:
        page = browser.get(authorization_url, timeout=5, allow_redirects=False)
        form = _FormParser()
        form.feed(page.text)
        button = next(b for b in form.buttons if b["label"].strip().lower() == "allow")
        data = [(k, v) for k, v in form.fields if (k, v) != ("scope", permission)]
        data += [(button["name"], button["value"])] if button["name"] else []
        answer = browser.post(urljoin(page.url, form.action), data=data, timeout=5, allow_redirects=False)
        return answer.headers["Location"]


def test_a_reconnect_without_a_needed_permission_shows_needs_attention_in_plain_words(staff, simulator):
    connect(staff["client"], "facebook", [world.PAGE_MAIN_ID])
    connection = SocialConnection.objects.get(platform="FACEBOOK", account_id=world.PAGE_MAIN_ID)
    listing = staff["client"].get(reverse("connections:list")).content.decode()
    assert f'data-connection="{connection.pk}" data-health="active"' in listing

    # Reconnect, unticking pages_manage_posts on Facebook's consent page: the page can no longer be picked,
    # and Facebook has taken the permission away, so the connection must not stay green.
    location = start(staff["client"], "facebook", reconnect=connection.pk)
    callback = back_from_platform(staff["client"], consent_without(location, "pages_manage_posts"))
    assert callback.status_code == 302
    connection.refresh_from_db()
    assert "pages_manage_posts" not in connection.permissions

    listing = staff["client"].get(reverse("connections:list")).content.decode()
    row = listing[listing.index(f'data-connection="{connection.pk}"'):]
    row = row[:row.index("</tr>")]
    assert 'data-health="missing_permissions"' in row and "Needs attention" in row and ">Active<" not in row
    assert "publish posts on the Page (“Create content”)" in row and "pages_manage_posts" not in row
    assert "Reconnect" in row


def test_a_sign_in_the_platform_ends_with_an_error_leads_with_a_sentence(staff, simulator):
    location = start(staff["client"], "linkedin")
    state = parse_qs(urlsplit(location).query)["state"][0]
    page = staff["client"].get(reverse("connections:callback", args=["linkedin"]),
                               {"state": state, "error": "server_error", "error_description": "internal_failure_code_7"})
    body = page.content.decode()
    alert = body[body.index('role="alert"'):]
    alert = alert[:alert.index("</p>")]
    assert "LinkedIn could not complete the sign-in, so nothing was connected." in alert
    assert "internal_failure_code_7" not in alert and "server_error" not in alert
    detail = body[body.index('id="failure-detail"'):]
    assert "What LinkedIn said" in detail and "internal_failure_code_7" in detail


def test_a_refused_code_exchange_leads_with_a_sentence_and_keeps_the_platforms_words_apart(staff, simulator):
    location = click_consent(start(staff["client"], "facebook"))
    code = parse_qs(urlsplit(location).query)["code"][0]
    second = start(staff["client"], "facebook")
    state = parse_qs(urlsplit(second).query)["state"][0]
    assert back_from_platform(staff["client"], location).status_code == 302
    body = staff["client"].get(reverse("connections:callback", args=["facebook"]),
                               {"code": code, "state": state}).content.decode()
    alert = body[body.index('role="alert"'):]
    alert = alert[:alert.index("</p>")]
    assert "Facebook refused the sign-in. The code may have expired" in alert
    assert "did not accept" not in alert and 'id="failure-detail"' in body
