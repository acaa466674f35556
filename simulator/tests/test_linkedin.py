"""LinkedIn: OAuth, versioned REST headers, organizations, images, posts and share statistics."""

import urllib.parse

import requests

from simulator import world

from .conftest import REDIRECT, click, li_post_body, query


def test_consent_deny_redirects_with_user_cancelled(sim):
    assert query(click(sim.li_authorize_url(state="l1"), decision="Deny")) == {
        "error": "user_cancelled_authorize", "error_description": "The user cancelled the authorization",
        "state": "l1"}


def test_token_exchange_refuses_wrong_redirect_reused_code_and_bad_client(sim):
    code = query(click(sim.li_authorize_url()))["code"]
    wrong = sim.li_token_call({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT + "x"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_request"
    good = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    tokens = sim.li_token_call(good).json()
    assert tokens["expires_in"] == 5184000 and tokens["refresh_token_expires_in"] == 31536000
    assert tokens["scope"] == "w_organization_social,r_organization_social,rw_organization_admin"
    assert sim.li_token_call(good).status_code == 400
    bad_client = sim.post("/oauth/v2/accessToken", data={**good, "client_id": world.LINKEDIN_CLIENT_ID,
                                                          "client_secret": "nope"})
    assert bad_client.status_code == 401


def test_refresh_keeps_the_refresh_expiry_fixed_from_first_consent(sim):
    tokens = sim.li_tokens()
    sim.client.advance_clock(100 * 24 * 3600)
    refreshed = sim.li_token_call({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json()
    assert refreshed["access_token"] != tokens["access_token"]
    assert refreshed["refresh_token"] == tokens["refresh_token"]
    assert refreshed["refresh_token_expires_in"] == 31536000 - 100 * 24 * 3600
    sim.client.advance_clock(266 * 24 * 3600)
    assert sim.li_token_call({"grant_type": "refresh_token",
                              "refresh_token": tokens["refresh_token"]}).status_code == 400


def test_introspect_and_revoke(sim):
    token = sim.li_tokens()["access_token"]
    creds = {"client_id": world.LINKEDIN_CLIENT_ID, "client_secret": world.LINKEDIN_CLIENT_SECRET, "token": token}
    assert sim.post("/oauth/v2/introspectToken", data=creds).json()["active"] is True
    assert sim.post("/oauth/v2/revoke", data=creds).status_code == 200
    assert sim.post("/oauth/v2/introspectToken", data=creds).json()["active"] is False
    revoked = sim.get("/rest/organizationAcls", params={"q": "roleAssignee"}, headers=sim.li_headers(token))
    assert revoked.status_code == 401 and revoked.json()["serviceErrorCode"] == 65601


def test_rest_calls_need_a_valid_token_and_a_current_version(sim):
    token = sim.li_tokens()["access_token"]
    acls = "/rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED"
    bad = sim.get(acls, headers=sim.li_headers("nope"))
    assert bad.status_code == 401 and bad.json() == {"status": 401, "serviceErrorCode": 65600,
                                                     "code": "INVALID_ACCESS_TOKEN", "message": "Invalid access token"}
    missing = sim.get(acls, headers=sim.li_headers(token, version=None))
    assert missing.status_code == 400 and missing.json()["code"] == "VERSION_MISSING"
    old = sim.get(acls, headers=sim.li_headers(token, version="202301"))
    assert old.status_code == 426 and old.json()["code"] == "NONEXISTENT_VERSION"
    no_protocol = sim.get(acls, headers={k: v for k, v in sim.li_headers(token).items()
                                         if k != "X-Restli-Protocol-Version"})
    assert no_protocol.status_code == 400
    sim.client.advance_clock(60 * 24 * 3600 + 1)
    assert sim.get(acls, headers=sim.li_headers(token)).status_code == 401


def test_organizations(sim):
    headers = sim.li_headers(sim.li_tokens()["access_token"])
    acls = sim.get("/rest/organizationAcls", params={"q": "roleAssignee", "role": "ADMINISTRATOR",
                                                     "state": "APPROVED"}, headers=headers).json()
    assert [e["organization"] for e in acls["elements"]] == ["urn:li:organization:3001", "urn:li:organization:3002"]
    assert acls["elements"][0]["roleAssignee"] == world.LINKEDIN_MEMBER_URN and acls["paging"]["start"] == 0
    org = sim.get("/rest/organizations/3001", headers=headers).json()
    assert (org["id"], org["localizedName"], org["vanityName"]) == (3001, "Pinewood Golf Club", "pinewood-golf")
    assert sim.get("/rest/organizations/9999", headers=headers).status_code == 404


def upload_image(sim, headers, owner="urn:li:organization:3001"):
    init = sim.post("/rest/images", params={"action": "initializeUpload"},
                    json={"initializeUploadRequest": {"owner": owner}}, headers=headers).json()["value"]
    assert init["uploadUrl"].startswith(sim.url + "/_sim/linkedin-upload/")
    image = requests.get(sim.client.media_url(), timeout=5).content
    put = requests.put(init["uploadUrl"], data=image, timeout=5,
                       headers={"Authorization": headers["Authorization"]})
    assert put.status_code == 201
    return init["image"]


def test_posts_with_image_link_duplicate_and_length(sim):
    headers = sim.li_headers(sim.li_tokens()["access_token"])
    image = upload_image(sim, headers)
    created = sim.post("/rest/posts", json=li_post_body("Open day", content={"media": {"id": image}}),
                       headers=headers)
    assert created.status_code == 201 and created.text == ""
    urn = created.headers["x-restli-id"]
    assert urn.startswith("urn:li:share:")
    duplicate = sim.post("/rest/posts", json=li_post_body("Open day"), headers=headers)
    assert duplicate.status_code == 422
    assert duplicate.json()["errorDetails"]["inputErrors"][0]["code"] == "DUPLICATE_POST"
    assert urn in duplicate.json()["errorDetails"]["inputErrors"][0]["description"]
    too_long = sim.post("/rest/posts", json=li_post_body("a" * 3001), headers=headers)
    assert too_long.status_code == 422
    assert too_long.json()["errorDetails"]["inputErrors"][0]["code"] != "DUPLICATE_POST"
    ghost = sim.post("/rest/posts", json=li_post_body("Ghost", content={"media": {"id": "urn:li:image:nope"}}),
                     headers=headers)
    assert ghost.status_code == 422
    link = sim.post("/rest/posts", json=li_post_body("Link", content={"article": {
        "source": "https://pinewood.example/open-day", "title": "Open day"}}), headers=headers)
    assert link.status_code == 201
    published = sim.client.published("linkedin", "3001")
    assert [p["text"] for p in published] == ["Open day", "Link"]
    assert published[0]["url"] == f"https://www.linkedin.com/feed/update/{urn}/"


def test_posts_need_an_administered_author_and_the_required_fields(sim):
    headers = sim.li_headers(sim.li_tokens()["access_token"])
    stranger = sim.post("/rest/posts", json=li_post_body("Hi", author="urn:li:organization:4242"), headers=headers)
    assert stranger.status_code == 403
    body = li_post_body("Hi")
    del body["lifecycleState"]
    assert sim.post("/rest/posts", json=body, headers=headers).status_code == 422
    readonly = sim.li_headers(sim.li_tokens(["r_organization_social"])["access_token"])
    assert sim.post("/rest/posts", json=li_post_body("Hi"), headers=readonly).status_code == 403


def test_posts_by_author_newest_first_and_share_statistics(sim):
    headers = sim.li_headers(sim.li_tokens()["access_token"])
    urns = []
    for text in ("First", "Second"):
        urns.append(sim.post("/rest/posts", json=li_post_body(text), headers=headers).headers["x-restli-id"])
        sim.client.advance_clock(60)
    author = urllib.parse.quote("urn:li:organization:3001", safe="")
    listed = sim.get(f"/rest/posts?author={author}&q=author&count=10", headers=headers).json()
    assert [p["id"] for p in listed["elements"]] == urns[::-1]
    assert listed["elements"][0]["commentary"] == "Second" and listed["elements"][0]["createdAt"] > 0
    sim.client.advance_clock(3 * 3600)
    shares = ",".join(urllib.parse.quote(u, safe="") for u in urns)
    stats = sim.get(f"/rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity={author}"
                    f"&shares=List({shares})", headers=headers).json()["elements"]
    assert [e["share"] for e in stats] == urns
    totals = stats[0]["totalShareStatistics"]
    assert set(totals) == {"impressionCount", "uniqueImpressionsCount", "clickCount", "likeCount", "commentCount",
                           "shareCount", "engagement"} and totals["impressionCount"] > 0
    plain = sim.get("/rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity="
                    f"urn:li:organization:3001&shares=List({','.join(urns)})", headers=headers).json()["elements"]
    assert [e["share"] for e in plain] == urns
