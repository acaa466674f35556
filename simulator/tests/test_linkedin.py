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
    assert [e["organization"] for e in acls["elements"]] == ["urn:li:organization:3001"]
    assert acls["elements"][0]["roleAssignee"] == world.LINKEDIN_MEMBER_URN and acls["paging"]["start"] == 0
    every_role = sim.get("/rest/organizationAcls", params={"q": "roleAssignee", "state": "APPROVED"},
                         headers=headers).json()
    assert [(e["organization"], e["role"]) for e in every_role["elements"]] == [
        ("urn:li:organization:3001", "ADMINISTRATOR"), ("urn:li:organization:3002", "CONTENT_ADMINISTRATOR"),
        ("urn:li:organization:3003", "ANALYST")]
    content_admins = sim.get("/rest/organizationAcls", params={"q": "roleAssignee", "role": "CONTENT_ADMINISTRATOR",
                                                               "state": "APPROVED"}, headers=headers).json()
    assert [e["organization"] for e in content_admins["elements"]] == ["urn:li:organization:3002"]
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


def media_status(sim, headers, urn):
    kind = "videos" if ":video:" in urn else "images"
    return sim.get(f"/rest/{kind}/{urllib.parse.quote(urn, safe='')}", headers=headers).json()["status"]


def test_an_image_is_processing_for_a_while_and_a_post_using_it_is_refused_until_available(sim):
    sim.client.linkedin_config(processing_seconds=30)
    headers = sim.li_headers(sim.li_tokens()["access_token"])
    image = upload_image(sim, headers)
    assert media_status(sim, headers, image) == "PROCESSING"
    early = sim.post("/rest/posts", json=li_post_body("Open day", content={"media": {"id": image}}), headers=headers)
    assert early.status_code == 422 and "PROCESSING" in early.json()["message"]
    sim.client.advance_clock(30)
    assert media_status(sim, headers, image) == "AVAILABLE"
    assert sim.post("/rest/posts", json=li_post_body("Open day", content={"media": {"id": image}}),
                    headers=headers).status_code == 201


def test_processing_can_fail(sim):
    sim.client.linkedin_config(processing_seconds=0, processing_outcome="PROCESSING_FAILED")
    headers = sim.li_headers(sim.li_tokens()["access_token"])
    image = upload_image(sim, headers)
    assert media_status(sim, headers, image) == "PROCESSING_FAILED"
    refused = sim.post("/rest/posts", json=li_post_body("x", content={"media": {"id": image}}), headers=headers)
    assert refused.status_code == 422


MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4


def test_video_multi_part_upload_then_processing_then_post(sim):
    sim.client.linkedin_config(processing_seconds=10, video_part_size=400)
    headers = sim.li_headers(sim.li_tokens()["access_token"])
    init = sim.post("/rest/videos", params={"action": "initializeUpload"}, headers=headers, json={
        "initializeUploadRequest": {"owner": "urn:li:organization:3001", "fileSizeBytes": len(MP4),
                                    "uploadCaptions": False, "uploadThumbnail": False}}).json()["value"]
    video, parts = init["video"], init["uploadInstructions"]
    assert video.startswith("urn:li:video:") and init["uploadToken"]
    assert [(p["firstByte"], p["lastByte"]) for p in parts] == [(0, 399), (400, 799), (800, len(MP4) - 1)]
    assert media_status(sim, headers, video) == "WAITING_UPLOAD"
    wrong_size = requests.put(parts[0]["uploadUrl"], data=MP4[:10], timeout=5)
    assert wrong_size.status_code == 400
    unsigned = requests.put(parts[0]["uploadUrl"].split("?")[0], data=MP4[:400], timeout=5)
    assert unsigned.status_code == 404
    etags = [requests.put(p["uploadUrl"], data=MP4[p["firstByte"]:p["lastByte"] + 1], timeout=5,
                          headers={"Content-Type": "application/octet-stream"}).headers["ETag"] for p in parts]
    finalize = {"video": video, "uploadToken": init["uploadToken"], "uploadedPartIds": etags[::-1]}
    assert sim.post("/rest/videos", params={"action": "finalizeUpload"}, headers=headers,
                    json={"finalizeUploadRequest": finalize}).status_code == 400
    finalize["uploadedPartIds"] = etags
    assert sim.post("/rest/videos", params={"action": "finalizeUpload"}, headers=headers,
                    json={"finalizeUploadRequest": finalize}).status_code == 200
    assert media_status(sim, headers, video) == "PROCESSING"
    body = li_post_body("Swing clinic", content={"media": {"id": video}})
    assert sim.post("/rest/posts", json=body, headers=headers).status_code == 422
    sim.client.advance_clock(10)
    assert media_status(sim, headers, video) == "AVAILABLE"
    assert sim.post("/rest/posts", json=body, headers=headers).status_code == 201
    assert sim.client.published("linkedin")[0]["media"] == [video]


def test_a_video_that_is_not_mp4_fails_processing(sim):
    sim.client.linkedin_config(processing_seconds=0)
    headers = sim.li_headers(sim.li_tokens()["access_token"])
    data = b"not a video at all"
    init = sim.post("/rest/videos", params={"action": "initializeUpload"}, headers=headers, json={
        "initializeUploadRequest": {"owner": "urn:li:organization:3001", "fileSizeBytes": len(data)}}).json()["value"]
    (part,) = init["uploadInstructions"]
    etag = requests.put(part["uploadUrl"], data=data, timeout=5).headers["ETag"]
    assert sim.post("/rest/videos", params={"action": "finalizeUpload"}, headers=headers, json={
        "finalizeUploadRequest": {"video": init["video"], "uploadToken": "", "uploadedPartIds": [etag]}}
                    ).status_code == 200
    assert media_status(sim, headers, init["video"]) == "PROCESSING_FAILED"


def test_apps_without_programmatic_refresh_get_no_refresh_token(sim):
    code = query(click(sim.li_authorize_url().replace(world.LINKEDIN_CLIENT_ID, world.LINKEDIN_BASIC_CLIENT_ID)))
    answer = sim.post("/oauth/v2/accessToken", data={
        "grant_type": "authorization_code", "code": code["code"], "redirect_uri": REDIRECT,
        "client_id": world.LINKEDIN_BASIC_CLIENT_ID, "client_secret": world.LINKEDIN_BASIC_CLIENT_SECRET}).json()
    assert answer["expires_in"] == 60 * 24 * 3600 and "refresh_token" not in answer
    assert "refresh_token_expires_in" not in answer
    sim.client.linkedin_config(programmatic_refresh={world.LINKEDIN_CLIENT_ID: False})
    assert "refresh_token" not in sim.li_tokens()
    sim.client.linkedin_config(programmatic_refresh={world.LINKEDIN_CLIENT_ID: True})
    assert sim.li_tokens()["refresh_token"]


def test_posts_with_image_link_duplicate_and_length(sim):
    sim.client.linkedin_config(processing_seconds=0)
    headers = sim.li_headers(sim.li_tokens()["access_token"])
    image = upload_image(sim, headers)
    created = sim.post("/rest/posts", json=li_post_body("Open day", content={"media": {"id": image}}),
                       headers=headers)
    assert created.status_code == 201 and created.text == ""
    urn = created.headers["x-restli-id"]
    assert urn.startswith("urn:li:share:")
    duplicate = sim.post("/rest/posts", json=li_post_body("Open day"), headers=headers)
    assert duplicate.status_code == 422
    refusal = duplicate.json()
    assert refusal["errorDetails"]["inputErrors"][0]["code"] == "DUPLICATE_POST"
    assert refusal["message"] == ("com.linkedin.content.common.exception.BadRequestResponseException: "
                                  f"Content is a duplicate of {urn}")
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
    analyst = sim.post("/rest/posts", json=li_post_body("Hi", author="urn:li:organization:3003"), headers=headers)
    assert analyst.status_code == 403
    content_admin = sim.post("/rest/posts", json=li_post_body("Hi", author="urn:li:organization:3002"),
                             headers=headers)
    assert content_admin.status_code == 201
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


def test_alt_text_of_each_image_is_recorded_and_its_length_checked(sim):
    sim.client.linkedin_config(processing_seconds=0)
    headers = sim.li_headers(sim.li_tokens()["access_token"])
    first, second = upload_image(sim, headers), upload_image(sim, headers)
    sim.client.advance_clock(1)
    too_long = sim.post("/rest/posts", headers=headers, json=li_post_body(
        "Range day", content={"media": {"id": first, "altText": "a" * 4087}}))
    assert too_long.status_code == 422 and "/content/media/altText" in too_long.text
    created = sim.post("/rest/posts", headers=headers, json=li_post_body("Range day", content={"multiImage": {
        "images": [{"id": first, "altText": "Juniors on the range"}, {"id": second}]}}))
    assert created.status_code == 201
    (published,) = sim.client.published(platform="linkedin")
    assert published["alt_texts"] == ["Juniors on the range", ""]
