"""Instagram content publishing: containers, polling, quota, caption rules and insights."""

from simulator import world

from .conftest import graph_error

IG = world.INSTAGRAM_USER_ID


def container(sim, token, **params):
    params.setdefault("image_url", sim.client.media_url())
    return sim.post(f"/v25.0/{IG}/media", data={**params, "access_token": token})


def status(sim, token, container_id):
    return sim.get(f"/v25.0/{container_id}", params={"fields": "status_code,status", "access_token": token}).json()


def publish(sim, token, container_id):
    return sim.post(f"/v25.0/{IG}/media_publish", data={"creation_id": container_id, "access_token": token})


def test_publish_before_finished_is_refused_then_works_after_polling(sim):
    token = sim.fb_user_token()
    container_id = container(sim, token, caption="First tee #golf").json()["id"]
    early = publish(sim, token, container_id)
    assert early.status_code == 400
    assert graph_error(early)["code"] == 9007 and graph_error(early)["error_subcode"] == 2207027
    assert status(sim, token, container_id)["status_code"] == "IN_PROGRESS"
    assert status(sim, token, container_id) == {"status_code": "FINISHED", "id": container_id,
                                                "status": status(sim, token, container_id)["status"]}
    media_id = publish(sim, token, container_id).json()["id"]
    media = sim.get(f"/v25.0/{media_id}", params={
        "fields": "permalink,like_count,comments_count,timestamp,caption", "access_token": token}).json()
    assert media["permalink"].startswith("https://www.instagram.com/p/") and media["caption"] == "First tee #golf"
    assert status(sim, token, container_id)["status_code"] == "PUBLISHED"
    twice = publish(sim, token, container_id)
    assert twice.status_code == 400 and "already been published" in graph_error(twice)["message"]
    assert [p["post_id"] for p in sim.client.published("instagram")] == [media_id]


def test_containers_finish_after_a_second_and_expire_after_a_day(sim):
    token = sim.fb_user_token()
    ready = container(sim, token).json()["id"]
    sim.client.advance_clock(2)
    assert publish(sim, token, ready).status_code == 200
    stale = container(sim, token).json()["id"]
    sim.client.advance_clock(24 * 3600 + 1)
    assert status(sim, token, stale)["status_code"] == "EXPIRED"
    assert graph_error(publish(sim, token, stale))["error_subcode"] == 2207006


def test_media_that_cannot_be_downloaded(sim):
    token = sim.fb_user_token()
    for url in ("https://cdn.example.com/photo.jpg", sim.url + "/_sim/media/nothing.jpg"):
        error = graph_error(container(sim, token, image_url=url))
        assert (error["code"], error["error_subcode"]) == (9004, 2207052)


def test_caption_rules(sim):
    token = sim.fb_user_token()
    too_long = graph_error(container(sim, token, caption="a" * 2201))
    assert too_long["code"] == 100 and "2,200" in too_long["message"]
    hashtags = graph_error(container(sim, token, caption=" ".join(f"#tag{i}" for i in range(31))))
    assert hashtags["code"] == 100 and "30 hashtags" in hashtags["message"]
    assert container(sim, token, caption=" ".join(f"#tag{i}" for i in range(30))).status_code == 200


def test_carousel_of_children_and_more_than_ten_refused(sim):
    token = sim.fb_user_token()
    children = [container(sim, token, is_carousel_item="true").json()["id"] for _ in range(11)]
    refused = container(sim, token, media_type="CAROUSEL", children=",".join(children), caption="Eleven")
    assert graph_error(refused)["code"] == 100
    parent = container(sim, token, media_type="CAROUSEL", children=",".join(children[:3]), caption="Three").json()
    sim.client.advance_clock(2)
    media_id = publish(sim, token, parent["id"]).json()["id"]
    assert sim.get(f"/v25.0/{media_id}", params={"fields": "media_type", "access_token": token}).json()[
        "media_type"] == "CAROUSEL_ALBUM"
    assert len(sim.client.published("instagram")[0]["media"]) == 3


def test_quota_of_fifty_posts_per_rolling_day(sim):
    token = sim.fb_user_token()
    for _ in range(50):
        container_id = container(sim, token).json()["id"]
        sim.client.advance_clock(1)
        assert publish(sim, token, container_id).status_code == 200
    limit = sim.get(f"/v25.0/{IG}/content_publishing_limit", params={"fields": "quota_usage,config",
                                                                       "access_token": token}).json()
    assert limit == {"data": [{"quota_usage": 50, "config": {"quota_total": 50, "quota_duration": 86400}}]}
    container_id = container(sim, token).json()["id"]
    sim.client.advance_clock(1)
    over = graph_error(publish(sim, token, container_id))
    assert (over["code"], over["error_subcode"]) == (9, 2207042)
    sim.client.advance_clock(24 * 3600)
    assert publish(sim, token, container_id).status_code == 400  # the container itself has expired by now
    fresh = container(sim, token).json()["id"]
    sim.client.advance_clock(1)
    assert publish(sim, token, fresh).status_code == 200


def test_publishing_needs_instagram_content_publish(sim):
    token = sim.fb_user_token(uncheck=("instagram_content_publish",))
    error = graph_error(container(sim, token))
    assert error["code"] == 200 and "instagram_content_publish" in error["message"]


def test_insights_and_recent_media(sim):
    token = sim.fb_user_token()
    first = container(sim, token, caption="One").json()["id"]
    sim.client.advance_clock(2)
    one = publish(sim, token, first).json()["id"]
    since = int(sim.client.now()) + 1
    sim.client.advance_clock(60)
    second = container(sim, token, caption="Two").json()["id"]
    sim.client.advance_clock(2)
    two = publish(sim, token, second).json()["id"]
    listed = sim.get(f"/v25.0/{IG}/media", params={"fields": "id,caption,timestamp,permalink",
                                                    "access_token": token}).json()["data"]
    assert [m["id"] for m in listed] == [two, one]
    recent = sim.get(f"/v25.0/{IG}/media", params={"since": since, "access_token": token}).json()["data"]
    assert [m["id"] for m in recent] == [two]
    sim.client.advance_clock(3 * 3600)
    insights = sim.get(f"/v25.0/{one}/insights", params={
        "metric": "views,reach,likes,comments,shares,saved,total_interactions", "access_token": token}).json()
    values = {d["name"]: d["values"][0]["value"] for d in insights["data"]}
    assert values["views"] > 0 and values["total_interactions"] >= values["likes"]
    for old in ("impressions", "plays"):
        refused = sim.get(f"/v25.0/{one}/insights", params={"metric": f"reach,{old}", "access_token": token})
        assert refused.status_code == 400 and graph_error(refused)["code"] == 100


def test_insights_expand_as_a_field_of_media_and_of_a_batch_read(sim):
    token = sim.fb_user_token()
    ids = []
    for caption in ("One", "Two"):
        created = container(sim, token, caption=caption).json()["id"]
        sim.client.advance_clock(2)
        ids.append(publish(sim, token, created).json()["id"])
    sim.client.advance_clock(3600)
    edge = sim.get(f"/v25.0/{ids[0]}/insights", params={"metric": "views,reach,shares", "access_token": token})
    fields = "like_count,comments_count,insights.metric(views,reach,shares).period(lifetime)"
    one = sim.get(f"/v25.0/{ids[0]}", params={"fields": fields, "access_token": token}).json()
    assert one["insights"] == edge.json() and one["like_count"] > 0
    assert [d["name"] for d in one["insights"]["data"]] == ["views", "reach", "shares"]
    batch = sim.get("/v25.0/", params={"ids": ",".join(ids), "fields": fields, "access_token": token}).json()
    assert set(batch) == set(ids) and batch[ids[0]]["insights"] == edge.json()
    refused_edge = sim.get(f"/v25.0/{ids[0]}/insights", params={"metric": "reach,impressions",
                                                                 "access_token": token})
    refused = sim.get("/v25.0/", params={"ids": ",".join(ids), "access_token": token,
                                         "fields": "like_count,insights.metric(reach,impressions)"})
    assert refused.status_code == 400 and graph_error(refused)["message"] == graph_error(refused_edge)["message"]
    no_insights = sim.fb_user_token(uncheck=("instagram_manage_insights",))
    denied = sim.get(f"/v25.0/{ids[0]}", params={"fields": fields, "access_token": no_insights})
    assert denied.status_code == 403 and graph_error(denied)["code"] == 200


def test_alt_text_is_kept_for_images_and_refused_for_reels(sim):
    token = sim.fb_user_token()
    described = container(sim, token, caption="Flag day", alt_text="The flag on the 18th green").json()["id"]
    status(sim, token, described)
    media_id = publish(sim, token, described).json()["id"]
    (published,) = [p for p in sim.client.published("instagram") if p["post_id"] == media_id]
    assert published["alt_texts"] == ["The flag on the 18th green"]
    reel = container(sim, token, media_type="REELS", video_url=sim.client.video_url(), image_url=None,
                     alt_text="A swing")
    assert graph_error(reel)["code"] == 100 and "alt_text" in graph_error(reel)["message"]
