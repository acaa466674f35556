"""Facebook Login and Pages: every refusal the real Graph API makes, by raw HTTP."""

import json

import requests

from simulator import world

from .conftest import REDIRECT, click, graph_error, query


def test_consent_allow_redirects_with_code_and_state(sim):
    location = click(sim.fb_dialog_url(state="abc"))
    assert location.startswith(REDIRECT)
    assert query(location)["state"] == "abc" and query(location)["code"]


def test_consent_deny_redirects_with_the_user_denied_error(sim):
    answer = query(click(sim.fb_dialog_url(state="abc"), decision="Deny"))
    assert answer == {"error": "access_denied", "error_code": "200", "error_description": "Permissions error",
                      "error_reason": "user_denied", "state": "abc"}


def test_unknown_app_gets_an_error_page_not_a_redirect(sim):
    page = requests.get(sim.fb_dialog_url(client_id="someone-else"), allow_redirects=False, timeout=5)
    assert page.status_code == 400 and "Invalid App ID" in page.text


def test_code_exchange_gives_a_short_lived_token_then_a_long_lived_one(sim):
    short = sim.fb_exchange(sim.fb_code()).json()
    assert short["token_type"] == "bearer" and short["expires_in"] == world.FACEBOOK_SHORT_TOKEN_TTL
    long = sim.get("/v25.0/oauth/access_token", params={
        "grant_type": "fb_exchange_token", "client_id": world.FACEBOOK_APP_ID,
        "client_secret": world.FACEBOOK_APP_SECRET, "fb_exchange_token": short["access_token"]}).json()
    assert long["expires_in"] == 5184000


def test_wrong_redirect_uri_reused_code_and_expired_code_are_refused(sim):
    code = sim.fb_code()
    wrong = sim.fb_exchange(code, redirect_uri=REDIRECT + "other/")
    assert wrong.status_code == 400 and graph_error(wrong)["error_subcode"] == 36008
    assert sim.fb_exchange(code).status_code == 200
    reused = sim.fb_exchange(code)
    assert reused.status_code == 400
    assert graph_error(reused)["code"] == 100 and graph_error(reused)["error_subcode"] == 36009
    assert graph_error(reused)["message"] == "This authorization code has been used."
    late = sim.fb_code()
    sim.client.advance_clock(601)
    expired = sim.fb_exchange(late)
    assert graph_error(expired)["error_subcode"] == 36007


def test_wrong_app_secret_is_refused(sim):
    answer = sim.fb_exchange(sim.fb_code(), secret="nope")
    assert answer.status_code == 400 and graph_error(answer)["code"] == 1


def test_expired_short_lived_token_and_its_page_tokens_stop_working(sim):
    user = sim.fb_user_token(long_lived=False)
    pages = sim.fb_page_tokens(user)
    sim.client.advance_clock(3601)
    for token in (user, pages[world.PAGE_MAIN_ID]):
        answer = sim.get("/v25.0/me", params={"access_token": token})
        assert answer.status_code == 400
        assert graph_error(answer)["code"] == 190 and graph_error(answer)["error_subcode"] == 463
    exchange = sim.get("/v25.0/oauth/access_token", params={
        "grant_type": "fb_exchange_token", "client_id": world.FACEBOOK_APP_ID,
        "client_secret": world.FACEBOOK_APP_SECRET, "fb_exchange_token": user})
    assert graph_error(exchange)["code"] == 190


def test_page_tokens_from_a_long_lived_token_never_expire(sim):
    page = sim.page_token()
    sim.client.advance_clock(400 * 24 * 3600)
    assert sim.get("/v25.0/me", params={"access_token": page}).json() == {
        "id": world.PAGE_MAIN_ID, "name": "Pinewood Golf Club"} | {"id": world.PAGE_MAIN_ID}


def test_me_permissions_accounts_and_instagram_discovery(sim):
    user = sim.fb_user_token(uncheck=("instagram_manage_insights",))
    headers = {"Authorization": f"Bearer {user}"}
    assert sim.get("/v25.0/me", params={"fields": "id,name"}, headers=headers).json() == {
        "id": "10001", "name": "Alex Fairway"}
    granted = {p["permission"] for p in sim.get("/v25.0/me/permissions", headers=headers).json()["data"]}
    assert "pages_manage_posts" in granted and "instagram_manage_insights" not in granted
    accounts = sim.get("/v25.0/me/accounts", headers={"Authorization": f"OAuth {user}"}).json()
    assert [(p["id"], p["name"]) for p in accounts["data"]] == [
        ("2001", "Pinewood Golf Club"), ("2002", "Pinewood Juniors"), ("2003", "Pinewood Pro Shop")]
    assert accounts["data"][2]["tasks"] == ["ANALYZE"] and "cursors" in accounts["paging"]
    linked = sim.get("/v25.0/2001", params={"fields": "instagram_business_account", "access_token": user}).json()
    assert linked == {"instagram_business_account": {"id": world.INSTAGRAM_USER_ID}, "id": "2001"}
    assert sim.get("/v25.0/2002", params={"fields": "instagram_business_account",
                                          "access_token": user}).json() == {"id": "2002"}
    assert sim.get(f"/v25.0/{world.INSTAGRAM_USER_ID}", params={"fields": "username", "access_token": user}).json()[
        "username"] == "pinewoodgolf"


def test_no_pages_without_pages_show_list(sim):
    user = sim.fb_user_token(uncheck=("pages_show_list",))
    assert sim.get("/v25.0/me/accounts", params={"access_token": user}).json()["data"] == []


def test_missing_bad_and_revoked_tokens(sim):
    assert graph_error(sim.get("/v25.0/me"))["code"] == 104
    bad = sim.get("/v25.0/me", params={"access_token": "garbage"})
    assert bad.status_code == 400 and graph_error(bad)["code"] == 190
    user = sim.fb_user_token()
    assert sim.client.revoke_tokens("facebook") >= 1
    revoked = sim.get("/v25.0/me", params={"access_token": user})
    assert graph_error(revoked)["code"] == 190 and graph_error(revoked)["error_subcode"] == 460
    assert graph_error(revoked)["message"].startswith("Error validating access token:")
    assert graph_error(revoked)["fbtrace_id"]


def test_removing_the_app_revokes_tokens_and_removing_one_permission_blocks_posting(sim):
    user = sim.fb_user_token()
    page = sim.fb_page_tokens(user)["2001"]
    assert sim.delete("/v25.0/10001/permissions/pages_manage_posts", params={"access_token": user}).json() == {
        "success": True}
    refused = sim.post("/v25.0/2001/feed", data={"message": "Hello", "access_token": page})
    assert graph_error(refused)["code"] == 200 and "pages_manage_posts" in graph_error(refused)["message"]
    sim.delete("/v25.0/10001/permissions", params={"access_token": user})
    gone = sim.get("/v25.0/me", params={"access_token": page})
    assert graph_error(gone)["code"] == 190 and graph_error(gone)["error_subcode"] == 458


def test_post_to_feed_permalink_and_duplicate(sim):
    page = sim.page_token()
    created = sim.post("/v25.0/2001/feed", data={"message": "Greens are open", "access_token": page})
    assert created.status_code == 200
    post_id = created.json()["id"]
    assert post_id.startswith("2001_")
    read = sim.get(f"/v25.0/{post_id}", params={"fields": "permalink_url,message", "access_token": page}).json()
    assert read["permalink_url"] == f"https://www.facebook.com/2001/posts/{post_id.split('_')[1]}"
    again = sim.post("/v25.0/2001/feed", json={"message": "Greens are open"}, headers={"Authorization": f"Bearer {page}"})
    assert graph_error(again)["code"] == 506 and graph_error(again)["message"] == "Duplicate status message"
    sim.client.advance_clock(24 * 3600 + 1)
    assert sim.post("/v25.0/2001/feed", data={"message": "Greens are open", "access_token": page}).status_code == 200
    assert len(sim.client.published("facebook", "2001")) == 2


def test_posting_needs_that_pages_token_and_the_create_content_task(sim):
    user = sim.fb_user_token()
    pages = sim.fb_page_tokens(user)
    with_user = sim.post("/v25.0/2001/feed", data={"message": "x", "access_token": user})
    assert graph_error(with_user)["code"] == 200
    other_page = sim.post("/v25.0/2001/feed", data={"message": "x", "access_token": pages["2002"]})
    assert graph_error(other_page)["code"] == 200
    pro_shop = sim.post("/v25.0/2003/feed", data={"message": "x", "access_token": pages["2003"]})
    assert graph_error(pro_shop)["code"] == 200 and "CREATE_CONTENT" in graph_error(pro_shop)["message"]
    assert sim.post("/v25.0/2002/feed", data={"message": "x", "access_token": pages["2002"]}).status_code == 200


def test_photos_are_fetched_and_several_go_through_attached_media(sim):
    page = sim.page_token()
    one = sim.post("/v25.0/2001/photos", data={"url": sim.client.media_url(), "caption": "Course",
                                               "access_token": page}).json()
    assert set(one) == {"id", "post_id"}
    ids = [sim.post("/v25.0/2001/photos", data={"url": sim.client.media_url(f"sample{n}.jpg"), "published": "false",
                                                "access_token": page}).json()["id"] for n in (2, 3)]
    post = sim.post("/v25.0/2001/feed", data={
        "message": "Two photos", "access_token": page,
        "attached_media": json.dumps([{"media_fbid": i} for i in ids])}).json()
    published = {p["post_id"]: p for p in sim.client.published("facebook")}
    assert len(published[post["id"]]["media"]) == 2 and len(published[one["post_id"]]["media"]) == 1


def test_photo_url_that_cannot_be_fetched_is_refused(sim):
    page = sim.page_token()
    for url in ("https://example.com/a.jpg", sim.url + "/_sim/media/missing.jpg"):
        answer = sim.post("/v25.0/2001/photos", data={"url": url, "access_token": page})
        assert graph_error(answer)["code"] == 324
    assert sim.client.published("facebook") == []


def test_counts_grow_with_time_and_can_be_set(sim):
    page = sim.page_token()
    post_id = sim.post("/v25.0/2001/feed", data={"message": "Metrics", "access_token": page}).json()["id"]
    fields = {"fields": "reactions.summary(true),comments.summary(true),shares", "access_token": page}
    fresh = sim.get(f"/v25.0/{post_id}", params=fields).json()
    assert fresh["reactions"]["summary"]["total_count"] == 0 and "shares" not in fresh
    sim.client.advance_clock(6 * 3600)
    later = sim.get(f"/v25.0/{post_id}", params=fields).json()
    assert later["reactions"]["summary"]["total_count"] > 0 and later["shares"]["count"] > 0
    sim.client.set_metrics(post_id, likes=7, comments=2, shares=0)
    fixed = sim.get(f"/v25.0/{post_id}", params=fields).json()
    assert fixed["reactions"]["summary"]["total_count"] == 7 and fixed["comments"]["summary"]["total_count"] == 2
    assert "shares" not in fixed


def test_insights_accept_current_metrics_and_refuse_deprecated_ones(sim):
    page = sim.page_token()
    post_id = sim.post("/v25.0/2001/feed", data={"message": "Insights", "access_token": page}).json()["id"]
    ok = sim.get(f"/v25.0/{post_id}/insights", params={
        "metric": "post_media_view,post_total_media_view_unique", "period": "lifetime", "access_token": page})
    assert [d["name"] for d in ok.json()["data"]] == ["post_media_view", "post_total_media_view_unique"]
    for old in ("post_impressions", "post_impressions_unique"):
        refused = sim.get(f"/v25.0/{post_id}/insights", params={"metric": old, "access_token": page})
        assert refused.status_code == 400 and graph_error(refused)["code"] == 100
        assert "valid insights metric" in graph_error(refused)["message"]


def test_insights_expand_as_a_field_of_a_post_and_of_a_batch_read(sim):
    page = sim.page_token()
    ids = [sim.post("/v25.0/2001/feed", data={"message": f"Expand {n}", "access_token": page}).json()["id"]
           for n in range(2)]
    sim.client.advance_clock(3600)
    metric = "post_media_view,post_total_media_view_unique"
    fields = f"reactions.summary(true),comments.summary(true),shares,insights.metric({metric}).period(lifetime)"
    edge = sim.get(f"/v25.0/{ids[0]}/insights", params={"metric": metric, "period": "lifetime",
                                                         "access_token": page}).json()
    one = sim.get(f"/v25.0/{ids[0]}", params={"fields": fields, "access_token": page}).json()
    assert one["insights"] == edge and one["reactions"]["summary"]["total_count"] > 0
    assert [d["name"] for d in one["insights"]["data"]] == ["post_media_view", "post_total_media_view_unique"]
    entry = one["insights"]["data"][0]
    assert entry["period"] == "lifetime" and entry["values"][0]["value"] > 0 and entry["title"] and entry["id"]
    batch = sim.get("/v25.0/", params={"ids": ",".join(ids), "fields": fields, "access_token": page}).json()
    assert set(batch) == set(ids) and batch[ids[0]]["insights"] == edge
    plain = sim.get(f"/v25.0/{ids[0]}", params={"fields": "shares", "access_token": page}).json()
    assert "insights" not in plain
    for old in ("post_impressions", "post_impressions_unique"):
        refused_edge = sim.get(f"/v25.0/{ids[0]}/insights", params={"metric": old, "access_token": page})
        refused = sim.get("/v25.0/", params={"ids": ",".join(ids), "access_token": page,
                                             "fields": f"shares,insights.metric({old}).period(lifetime)"})
        assert refused.status_code == 400 and graph_error(refused)["code"] == 100
        assert graph_error(refused)["message"] == graph_error(refused_edge)["message"]


def test_feed_since_newest_first_and_batch_reads(sim):
    page = sim.page_token()
    first = sim.post("/v25.0/2001/feed", data={"message": "One", "access_token": page}).json()["id"]
    since = int(sim.client.now())
    sim.client.advance_clock(60)
    second = sim.post("/v25.0/2001/feed", data={"message": "Two", "access_token": page}).json()["id"]
    third = sim.post("/v25.0/2001/feed", data={"message": "Three", "access_token": page}).json()["id"]
    for edge in ("feed", "posts"):
        feed = sim.get(f"/v25.0/2001/{edge}", params={"since": since + 1, "access_token": page,
                                                      "fields": "id,message,created_time,permalink_url"}).json()
        assert [p["id"] for p in feed["data"]] == [third, second]
    batch = sim.get("/v25.0/", params={"ids": f"{first},{second}", "fields": "message", "access_token": page})
    assert batch.json() == {first: {"message": "One", "id": first}, second: {"message": "Two", "id": second}}
    too_many = sim.get("/v25.0/", params={"ids": ",".join([first] * 51), "access_token": page})
    assert graph_error(too_many)["code"] == 100


def test_usage_headers_on_every_graph_response(sim):
    page = sim.page_token()
    answer = sim.post("/v25.0/2001/feed", data={"message": "Usage", "access_token": page})
    assert set(answer.json() and eval_json(answer.headers["X-App-Usage"])) == {
        "call_count", "total_cputime", "total_time"}
    buc = eval_json(answer.headers["X-Business-Use-Case-Usage"])
    assert buc["2001"][0]["type"] == "pages" and "estimated_time_to_regain_access" in buc["2001"][0]
    sim.client.set_usage("facebook", call_count=95)
    assert eval_json(sim.get("/v25.0/me", params={"access_token": page}).headers["X-App-Usage"])["call_count"] == 95
    sim.client.set_usage("facebook", call_count=100)
    throttled = sim.get("/v25.0/2001/feed", params={"access_token": page})
    assert graph_error(throttled)["code"] in (4, 32)


def eval_json(text):
    return json.loads(text)


def test_photo_alt_text_is_recorded_per_photo(sim):
    page = sim.page_token()
    one = sim.post("/v25.0/2001/photos", data={"url": sim.client.media_url(), "caption": "Flag day",
                                               "alt_text_custom": "The flag on the 18th", "access_token": page}).json()
    empty = sim.post("/v25.0/2001/photos", data={"url": sim.client.media_url(), "alt_text_custom": " ",
                                                 "access_token": page})
    assert graph_error(empty)["code"] == 100
    ids = [sim.post("/v25.0/2001/photos", data={"url": sim.client.media_url(), "published": "false",
                                                "access_token": page, **extra}).json()["id"]
           for extra in ({"alt_text_custom": "Juniors"}, {})]
    post = sim.post("/v25.0/2001/feed", data={"message": "Two photos", "access_token": page,
                                              "attached_media": json.dumps([{"media_fbid": i} for i in ids])}).json()
    published = {p["post_id"]: p for p in sim.client.published("facebook")}
    assert published[one["post_id"]]["alt_texts"] == ["The flag on the 18th"]
    assert published[post["id"]]["alt_texts"] == ["Juniors", ""]


def test_usage_counts_the_last_hour_of_calls_per_page_and_for_the_app(sim):
    page = sim.page_token()
    for _ in range(10):
        answer = sim.get("/v25.0/2001/feed", params={"access_token": page})
    assert eval_json(answer.headers["X-Business-Use-Case-Usage"])["2001"][0]["call_count"] == 2  # 10 calls // 5
    assert eval_json(answer.headers["X-App-Usage"])["call_count"] >= 1
    sim.client.advance_clock(3601)
    fresh = sim.get("/v25.0/2001/feed", params={"access_token": page})
    assert eval_json(fresh.headers["X-Business-Use-Case-Usage"])["2001"][0]["call_count"] == 0
    assert eval_json(fresh.headers["X-App-Usage"])["call_count"] == 0


def test_usage_window_forgets_calls_older_than_an_hour_one_by_one():
    from simulator.state import UsageWindow

    window = UsageWindow()
    for n in range(30_000):
        window.add(float(n), "2001" if n % 3 else "2002")
    assert window.count(29_999.5, every_business=True) == 3600  # 26,400 to 29,999
    assert window.count(29_999.5, "2002") == 1200 and window.count(29_999.5, "2001") == 2400
    assert window.count(40_000.0, "2001") == 0 and len(window.calls) == 0 and not window.by_business
