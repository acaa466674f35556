"""X: PKCE, rotating refresh tokens, tweets, media, lookups and rate limits."""

import requests

from simulator import world
from simulator.twitter import weighted_length

from .conftest import REDIRECT, click, pkce, query


def test_authorize_needs_an_s256_code_challenge(sim):
    for challenge, method in ((None, "S256"), ("plain-challenge", "plain")):
        page = requests.get(sim.x_authorize_url(challenge, method=method), allow_redirects=False, timeout=5)
        assert page.status_code == 400 and "code_challenge" in page.text


def test_consent_deny_redirects_with_access_denied(sim):
    _, challenge = pkce()
    assert query(click(sim.x_authorize_url(challenge, state="q1"), decision="Deny")) == {
        "error": "access_denied", "state": "q1"}


def test_code_exchange_checks_verifier_redirect_reuse_and_expiry(sim):
    invalid = {"error": "invalid_request", "error_description": "Value passed for the authorization code was invalid."}
    code, verifier = sim.x_code()
    missing = sim.x_token_call({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    wrong = sim.x_token_call({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                              "code_verifier": pkce()[0]})
    assert (wrong.status_code, wrong.json()) == (400, invalid)
    code, verifier = sim.x_code()
    redirect = sim.x_token_call({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT + "x",
                                 "code_verifier": verifier})
    assert (redirect.status_code, redirect.json()) == (400, invalid)
    good = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    tokens = sim.x_token_call(good).json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 7200 and tokens["refresh_token"]
    assert tokens["scope"] == "tweet.read tweet.write users.read media.write offline.access"
    assert sim.x_token_call(good).json() == invalid
    code, verifier = sim.x_code()
    sim.client.advance_clock(31)
    late = sim.x_token_call({**good, "code": code, "code_verifier": verifier})
    assert (late.status_code, late.json()) == (400, invalid)


def test_client_authentication(sim):
    code, verifier = sim.x_code()
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    assert sim.x_token_call(body, auth=(world.X_CLIENT_ID, "wrong")).status_code == 401
    assert sim.x_token_call({**body, "client_id": world.X_CLIENT_ID}, auth=None).status_code == 401


def test_no_refresh_token_without_offline_access(sim):
    tokens = sim.x_tokens(["tweet.read", "users.read"])
    assert "refresh_token" not in tokens


def test_refresh_rotates_both_tokens(sim):
    first = sim.x_tokens()
    refreshed = sim.x_token_call({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    second = refreshed.json()
    assert refreshed.status_code == 200 and second["refresh_token"] != first["refresh_token"]
    reused = sim.x_token_call({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert (reused.status_code, reused.json()) == (400, {
        "error": "invalid_request", "error_description": "Value passed for the token was invalid."})
    old = sim.get("/2/users/me", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert (old.status_code, old.json()) == (401, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                                                   "detail": "Unauthorized"})
    me = sim.get("/2/users/me", headers={"Authorization": f"Bearer {second['access_token']}"}).json()
    assert me == {"data": {"id": world.X_USER_ID, "name": "Pinewood Golf", "username": "pinewoodgolf"}}


def test_access_token_expires_after_two_hours_and_revoke(sim):
    tokens = sim.x_tokens()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    sim.client.advance_clock(7201)
    assert sim.get("/2/users/me", headers=headers).status_code == 401
    fresh = sim.x_token_call({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json()
    assert sim.post("/2/oauth2/revoke", data={"token": fresh["access_token"]},
                    auth=(world.X_CLIENT_ID, world.X_CLIENT_SECRET)).json() == {"revoked": True}
    assert sim.get("/2/users/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}).status_code == 401


def test_tweet_duplicate_and_too_long(sim):
    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    created = sim.post("/2/tweets", json={"text": "Tee times open"}, headers=headers)
    assert created.status_code == 201
    data = created.json()["data"]
    assert data["id"].isdigit() and data["edit_history_tweet_ids"] == [data["id"]]
    duplicate = sim.post("/2/tweets", json={"text": "Tee times open"}, headers=headers)
    assert (duplicate.status_code, duplicate.json()) == (403, {
        "detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank",
        "title": "Forbidden", "status": 403})
    assert sim.post("/2/tweets", json={"text": "x" * 281}, headers=headers).status_code == 400
    assert sim.post("/2/tweets", json={"text": "x" * 280}, headers=headers).status_code == 201
    assert sim.post("/2/tweets", json={"text": "日" * 141}, headers=headers).status_code == 400
    assert sim.client.published("twitter")[0]["url"] == f"https://x.com/pinewoodgolf/status/{data['id']}"


def test_weighted_length():
    assert weighted_length("hello") == 5
    assert weighted_length("日本") == 4
    assert weighted_length("see https://example.com/a/very/long/path/indeed") == 4 + 23
    assert weighted_length("👨‍👩‍👧") == 2


def test_tweet_write_scope_is_required(sim):
    headers = {"Authorization": f"Bearer {sim.x_token(['tweet.read', 'users.read'])}"}
    assert sim.post("/2/tweets", json={"text": "No"}, headers=headers).status_code == 403


def test_media_upload_and_unknown_media_ids(sim):
    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    image = requests.get(sim.client.media_url(), timeout=5).content
    uploaded = sim.post("/2/media/upload", files={"media": ("a.jpg", image, "image/jpeg")},
                        data={"media_category": "tweet_image"}, headers=headers).json()["data"]
    assert uploaded["media_key"] == f"3_{uploaded['id']}" and uploaded["expires_after_secs"] == 86400
    assert sim.post("/2/tweets", json={"text": "Photo", "media": {"media_ids": [uploaded["id"]]}},
                    headers=headers).status_code == 201
    assert sim.post("/2/tweets", json={"text": "Ghost", "media": {"media_ids": ["123"]}},
                    headers=headers).status_code == 400
    no_scope = {"Authorization": f"Bearer {sim.x_token(['tweet.read', 'tweet.write', 'users.read'])}"}
    assert sim.post("/2/media/upload", files={"media": ("a.jpg", image, "image/jpeg")},
                    headers=no_scope).status_code == 403


def test_lookup_metrics_missing_ids_and_the_hundred_id_limit(sim):
    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    tweet_id = sim.post("/2/tweets", json={"text": "Metrics"}, headers=headers).json()["data"]["id"]
    sim.client.advance_clock(3600)
    found = sim.get("/2/tweets", params={"ids": f"{tweet_id},42", "tweet.fields": "public_metrics"},
                    headers=headers)
    assert found.status_code == 200
    metrics = found.json()["data"][0]["public_metrics"]
    assert set(metrics) == {"retweet_count", "reply_count", "like_count", "quote_count", "bookmark_count",
                            "impression_count"} and metrics["like_count"] > 0
    assert found.json()["errors"] == [{
        "value": "42", "detail": "Could not find tweet with ids: [42].", "title": "Not Found Error",
        "resource_type": "tweet", "parameter": "ids", "resource_id": "42",
        "type": "https://api.twitter.com/2/problems/resource-not-found"}]
    assert sim.get("/2/tweets", params={"ids": ",".join(str(i) for i in range(1, 102))},
                   headers=headers).status_code == 400


def test_user_tweets_since_newest_first(sim):
    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    sim.post("/2/tweets", json={"text": "Old"}, headers=headers)
    sim.client.advance_clock(3600)
    start = requests.get(sim.url + "/_sim/clock", timeout=5).json()["now"]
    ids = [sim.post("/2/tweets", json={"text": t}, headers=headers).json()["data"]["id"] for t in ("A", "B")]
    import datetime as dt
    start_time = dt.datetime.fromtimestamp(start - 1, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    listed = sim.get(f"/2/users/{world.X_USER_ID}/tweets", params={
        "start_time": start_time, "max_results": 10, "tweet.fields": "created_at"}, headers=headers).json()
    assert [t["id"] for t in listed["data"]] == ids[::-1] and listed["meta"]["result_count"] == 2
    assert "created_at" in listed["data"][0]


def test_rate_limit_headers_and_429_after_one_hundred_tweets(sim):
    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    for i in range(100):
        answer = sim.post("/2/tweets", json={"text": f"Tweet {i}"}, headers=headers)
        assert answer.status_code == 201
    assert answer.headers["x-rate-limit-limit"] == "100" and answer.headers["x-rate-limit-remaining"] == "0"
    limited = sim.post("/2/tweets", json={"text": "One too many"}, headers=headers)
    assert limited.status_code == 429
    assert limited.json() == {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                              "status": 429}
    assert int(limited.headers["x-rate-limit-reset"]) > 0
    sim.client.advance_clock(15 * 60)
    assert sim.post("/2/tweets", json={"text": "Next window"}, headers=headers).status_code == 201


# ------------------------------------------------------------------ X's own ways


def test_text_is_kept_with_t_co_links_escaped_and_entities(sim):
    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    text = "Open day & BBQ <free>, see pinewoodgolf.com/day. Or https://www.pinewoodgolf.com/a?x=1&y=2"
    created = sim.post("/2/tweets", json={"text": text}, headers=headers).json()["data"]
    kept = created["text"]
    assert kept.startswith("Open day &amp; BBQ &lt;free&gt;, see https://t.co/") and "pinewoodgolf" not in kept
    assert kept.count("https://t.co/") == 2
    looked = sim.get("/2/tweets", params={"ids": created["id"], "tweet.fields": "entities"},
                     headers=headers).json()["data"][0]
    assert looked["text"] == kept
    first, second = looked["entities"]["urls"]
    assert first["expanded_url"] == "http://pinewoodgolf.com/day" and first["display_url"] == "pinewoodgolf.com/day"
    assert kept[first["start"]:first["end"]] == first["url"] and kept[first["end"]] == "."  # the period is not the link's
    assert second["expanded_url"] == "https://www.pinewoodgolf.com/a?x=1&y=2"
    plain = sim.get("/2/tweets", params={"ids": created["id"]}, headers=headers).json()["data"][0]
    assert "entities" not in plain  # only when asked for through tweet.fields
    # the duplicate check is on the text as sent
    assert sim.post("/2/tweets", json={"text": text}, headers=headers).status_code == 403


def test_media_adds_a_t_co_link_with_its_media_key(sim):
    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    from simulator.media import SAMPLES

    media_id = sim.post("/2/media/upload", files={"media": ("a.jpg", SAMPLES["sample.jpg"], "image/jpeg")},
                        data={"media_category": "tweet_image"}, headers=headers).json()["data"]["id"]
    created = sim.post("/2/tweets", json={"text": "Photo", "media": {"media_ids": [media_id]}},
                       headers=headers).json()["data"]
    looked = sim.get("/2/tweets", params={"ids": created["id"], "tweet.fields": "entities,attachments"},
                     headers=headers).json()["data"][0]
    (link,) = looked["entities"]["urls"]
    assert looked["text"] == f"Photo {link['url']}" and link["media_key"] == f"3_{media_id}"
    assert link["display_url"].startswith("pic.x.com/") and link["expanded_url"].endswith("/photo/1")
    assert looked["attachments"] == {"media_keys": [f"3_{media_id}"]}


def test_24_hour_caps_send_their_headers_and_429_leaves_the_15_minute_window_open(sim):
    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    sim.client.configure_x(user_24h_limit=2)
    ok = sim.post("/2/tweets", json={"text": "One"}, headers=headers)
    assert ok.headers["x-user-limit-24hour-limit"] == "2" and ok.headers["x-user-limit-24hour-remaining"] == "1"
    assert ok.headers["x-app-limit-24hour-limit"] == "10000"
    assert sim.post("/2/tweets", json={"text": "Two"}, headers=headers).status_code == 201
    capped = sim.post("/2/tweets", json={"text": "Three"}, headers=headers)
    assert capped.status_code == 429 and capped.headers["x-user-limit-24hour-remaining"] == "0"
    assert int(capped.headers["x-rate-limit-remaining"]) > 0
    reset = int(capped.headers["x-user-limit-24hour-reset"])
    assert reset - int(capped.headers["x-rate-limit-reset"]) > 20 * 3600
    sim.client.advance_clock(24 * 3600)
    headers = {"Authorization": f"Bearer {sim.x_token()}"}  # the old token has expired meanwhile
    assert sim.post("/2/tweets", json={"text": "Three"}, headers=headers).status_code == 201


def test_control_api_for_x_refuses_unknown_or_bad_settings(sim):
    for body in ({"user_24h": 1}, {"processing_seconds": -1}, {"processing_fails": "yes"}):
        answer = requests.post(sim.url + "/_sim/x", json=body, timeout=5)
        assert answer.status_code == 400, body
    assert requests.get(sim.url + "/_sim/x", timeout=5).json()["x"]["user_24h_limit"] == 2400


def test_one_shot_upload_takes_still_images_only(sim):
    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    from simulator.media import SAMPLES

    gif = sim.post("/2/media/upload", files={"media": ("a.gif", SAMPLES["sample.gif"], "image/gif")},
                   data={"media_category": "tweet_image"}, headers=headers)
    assert gif.status_code == 400 and "chunked upload" in gif.json()["errors"][0]["message"]
    as_gif = sim.post("/2/media/upload", files={"media": ("a.gif", SAMPLES["sample.gif"], "image/gif")},
                      data={"media_category": "tweet_gif"}, headers=headers)
    assert as_gif.status_code == 400


def chunked_upload(sim, headers, data, media_type, category, chunk=None):
    init = sim.post("/2/media/upload/initialize", json={"media_type": media_type, "total_bytes": len(data),
                                                        "media_category": category}, headers=headers)
    assert init.status_code == 200, init.text
    media_id = init.json()["data"]["id"]
    chunk = chunk or len(data)
    for index in range(0, len(data), chunk):
        answer = sim.post(f"/2/media/upload/{media_id}/append", headers=headers,
                          files={"media": ("c", data[index:index + chunk], "application/octet-stream")},
                          data={"segment_index": str(index // chunk)})
        assert answer.status_code == 200, answer.text
    return media_id, sim.post(f"/2/media/upload/{media_id}/finalize", headers=headers)


def test_chunked_upload_processes_then_the_video_can_be_posted(sim):
    from simulator.media import SAMPLES

    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    sim.client.configure_x(processing_seconds=30)
    media_id, finalized = chunked_upload(sim, headers, SAMPLES["sample.mp4"], "video/mp4", "tweet_video", chunk=10)
    assert finalized.json()["data"]["processing_info"] == {"state": "pending", "check_after_secs": 30}
    status = sim.get("/2/media/upload", params={"command": "STATUS", "media_id": media_id}, headers=headers).json()
    assert status["data"]["processing_info"]["state"] == "in_progress"
    early = sim.post("/2/tweets", json={"text": "Swing", "media": {"media_ids": [media_id]}}, headers=headers)
    assert early.status_code == 400  # media still processing
    sim.client.advance_clock(30)
    status = sim.get("/2/media/upload", params={"command": "STATUS", "media_id": media_id}, headers=headers).json()
    assert status["data"]["processing_info"]["state"] == "succeeded"
    assert sim.post("/2/tweets", json={"text": "Swing", "media": {"media_ids": [media_id]}},
                    headers=headers).status_code == 201


def test_chunked_upload_enforces_category_sizes_and_chunks(sim):
    from simulator.media import SAMPLES

    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    gif = SAMPLES["sample.gif"]
    wrong_category = sim.post("/2/media/upload/initialize", headers=headers, json={
        "media_type": "image/gif", "total_bytes": len(gif), "media_category": "tweet_image"})
    assert wrong_category.status_code == 400
    too_big = sim.post("/2/media/upload/initialize", headers=headers, json={
        "media_type": "video/mp4", "total_bytes": 512 * 1024 * 1024 + 1, "media_category": "tweet_video"})
    assert too_big.status_code == 400
    sim.client.configure_x(chunk_max_bytes=8)
    init = sim.post("/2/media/upload/initialize", headers=headers, json={
        "media_type": "image/gif", "total_bytes": len(gif), "media_category": "tweet_gif"}).json()["data"]
    big_chunk = sim.post(f"/2/media/upload/{init['id']}/append", headers=headers,
                         files={"media": ("c", gif[:9], "application/octet-stream")}, data={"segment_index": "0"})
    assert big_chunk.status_code == 400
    short = sim.post(f"/2/media/upload/{init['id']}/finalize", headers=headers)
    assert short.status_code == 400  # fewer bytes than total_bytes
    sim.client.configure_x(chunk_max_bytes=5 * 1024 * 1024)
    _, not_a_video = chunked_upload(sim, headers, gif, "video/mp4", "tweet_video")
    assert not_a_video.status_code == 400


def test_a_gif_or_video_goes_alone(sim):
    from simulator.media import SAMPLES

    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    sim.client.configure_x(processing_seconds=0)
    gif_id, _ = chunked_upload(sim, headers, SAMPLES["sample.gif"], "image/gif", "tweet_gif")
    image_id = sim.post("/2/media/upload", files={"media": ("a.jpg", SAMPLES["sample.jpg"], "image/jpeg")},
                        headers=headers).json()["data"]["id"]
    mixed = sim.post("/2/tweets", json={"text": "Both", "media": {"media_ids": [gif_id, image_id]}}, headers=headers)
    assert mixed.status_code == 400


def test_media_metadata_sets_alt_text_that_the_tweet_records(sim):
    from simulator.media import SAMPLES

    headers = {"Authorization": f"Bearer {sim.x_token()}"}
    media_id = sim.post("/2/media/upload", files={"media": ("a.jpg", SAMPLES["sample.jpg"], "image/jpeg")},
                        data={"media_category": "tweet_image"}, headers=headers).json()["data"]["id"]
    too_long = sim.post("/2/media/metadata", headers=headers,
                        json={"id": media_id, "metadata": {"alt_text": {"text": "a" * 1001}}})
    assert too_long.status_code == 400 and "1000" in too_long.text
    unknown = sim.post("/2/media/metadata", headers=headers,
                       json={"id": "999", "metadata": {"alt_text": {"text": "A flag"}}})
    assert unknown.status_code == 400
    set_ = sim.post("/2/media/metadata", headers=headers,
                    json={"id": media_id, "metadata": {"alt_text": {"text": "A flag on the green"}}})
    assert set_.status_code == 200
    assert set_.json()["data"]["associated_metadata"]["alt_text"]["text"] == "A flag on the green"
    created = sim.post("/2/tweets", json={"text": "Photo", "media": {"media_ids": [media_id]}},
                       headers=headers).json()["data"]
    (published,) = [p for p in sim.client.published(platform="twitter") if p["post_id"] == created["id"]]
    assert published["alt_texts"] == ["A flag on the green"]


def test_media_metadata_needs_the_media_write_scope(sim):
    headers = {"Authorization": f"Bearer {sim.x_token(['tweet.read', 'tweet.write', 'users.read'])}"}
    refused = sim.post("/2/media/metadata", headers=headers, json={"id": "1", "metadata": {"alt_text": {"text": "x"}}})
    assert refused.status_code == 403
