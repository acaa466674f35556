import pytest

from platforms import InvalidContent

from .contract import AdapterContract


class TestInstagramAdapter(AdapterContract):
    slug = "instagram"
    sim_platform = "instagram"
    token_platform = "facebook"
    main_account_id = "17841400000000001"
    url_pattern = r"https://www\.instagram\.com/p/[^/]+/"
    publish_endpoint = "POST */media_publish"
    read_endpoint = "GET */media"

    def content(self, simulator, text="", **kw):
        kw.setdefault("media_urls", [self.image(simulator)])
        return super().content(simulator, text, **kw)

    def check_accounts(self, accounts):
        assert [a.account_id for a in accounts] == ["17841400000000001"]
        account = accounts[0]
        assert account.account_type == "business" and account.can_publish
        assert account.details["username"] == "pinewoodgolf" and account.details["page_id"] == "2001"
        assert account.name == "pinewoodgolf"
        assert {"instagram_basic", "instagram_content_publish"} <= set(account.permissions)

    def unknown_post_id(self):
        return "17959999999999999"

    def test_carousel_of_three_images(self, adapter, simulator, credentials):
        content = self.content(simulator, media_urls=[self.image(simulator, n) for n in (1, 2, 3)])
        result = adapter.publish(credentials=credentials, content=content)
        assert len(self.published(simulator, result.platform_post_id)["media"]) == 3
        created = [r for r in simulator.requests(platform="instagram")
                   if r["method"] == "POST" and r["path"].endswith("/media")]
        assert len(created) == 4  # three children and the carousel

    def test_a_caption_without_media_never_reaches_instagram(self, adapter, simulator, credentials):
        before = len(simulator.requests(platform="instagram"))
        with pytest.raises(InvalidContent):
            adapter.publish(credentials=credentials, content=self.content(simulator, media_urls=[]))
        assert len(simulator.requests(platform="instagram")) == before

    def test_unreachable_media_is_transient(self, adapter, simulator, credentials):
        from platforms import TransientError

        content = self.content(simulator, media_urls=[f"{simulator.url}/_sim/media/missing.jpg"])
        with pytest.raises(TransientError):
            adapter.publish(credentials=credentials, content=content)

    def test_refresh_checks_the_token_and_keeps_it(self, adapter, credentials):
        assert adapter.refresh(credentials=credentials).access_token == credentials.access_token

    def test_refresh_reports_a_dead_token(self, adapter, simulator, credentials):
        from platforms import AuthExpired

        simulator.revoke_tokens("instagram", account="17841400000000001")
        with pytest.raises(AuthExpired):
            adapter.refresh(credentials=credentials)

    # ---------------------------------------------------------------- metrics: insights in the batched read

    def publish_many(self, adapter, simulator, credentials, count):
        ids = []
        for n in range(count):
            if n and n % 50 == 0:
                simulator.advance_clock(24 * 3600 + 60)  # past the 50-a-day publishing quota
            ids.append(adapter.publish(credentials=credentials, content=self.content(simulator)).platform_post_id)
        return ids

    def test_metrics_for_51_media_take_one_graph_call_per_50(self, adapter, simulator, credentials):
        ids = self.publish_many(adapter, simulator, credentials, 51)
        simulator.advance_clock(3600)
        simulator.set_metrics(ids[3], likes=9, impressions=2000, reach=1500, shares=4)
        found = {}
        calls = self.calls_during(simulator, lambda: found.update(
            adapter.fetch_metrics(credentials=credentials, post_ids=ids)), platforms=["facebook", "instagram"])
        assert len(calls) == 2
        assert all(r["path"] == "/v25.0/" and "insights.metric(" in r["query"]["fields"] for r in calls)
        assert set(found) == set(ids)
        assert all(m.reach > 0 and m.impressions >= m.reach for m in found.values())
        assert (found[ids[3]].likes, found[ids[3]].impressions, found[ids[3]].reach,
                found[ids[3]].shares) == (9, 2000, 1500, 4)

    def test_a_deprecated_insights_metric_falls_back_to_counts(self, adapter, simulator, credentials, monkeypatch):
        from platforms import instagram

        monkeypatch.setattr(instagram, "INSIGHT_METRICS", "impressions,reach,shares")
        ids = self.publish_many(adapter, simulator, credentials, 2)
        simulator.advance_clock(3600)
        found = {}
        calls = self.calls_during(simulator, lambda: found.update(
            adapter.fetch_metrics(credentials=credentials, post_ids=ids)), platforms=["facebook", "instagram"])
        assert [r["status"] for r in calls] == [400, 200]
        assert set(found) == set(ids)
        assert all(m.likes > 0 and (m.reach, m.impressions, m.shares) == (None, None, None) for m in found.values())

    def test_without_the_insights_permission_metrics_keep_their_counts(self, adapter, simulator, credentials,
                                                                       tokens):
        import requests

        media_id = self.publish_many(adapter, simulator, credentials, 1)[0]
        simulator.advance_clock(3600)
        removed = requests.delete(f"{simulator.url}/v25.0/me/permissions/instagram_manage_insights",
                                  params={"access_token": tokens.access_token}, timeout=5)
        assert removed.status_code == 200
        metrics = adapter.fetch_metrics(credentials=credentials, post_ids=[media_id])
        assert metrics[media_id].likes > 0 and (metrics[media_id].reach, metrics[media_id].impressions) == (None, None)


class TestInstagramMetaFidelity:
    """Behaviours of the real Instagram Graph API the adapter must honour."""

    @pytest.fixture
    def ig(self, simulator, simulator_settings, settings):
        from django.core.cache import cache

        from platforms import adapter_for_slug

        cache.clear()
        settings.MEDIA_PROCESSING_POLL_INTERVAL = 0.02
        settings.MEDIA_PROCESSING_WAIT_IN_CALL = 0.5
        return adapter_for_slug("instagram")

    @pytest.fixture
    def creds(self, ig):
        from platforms import Credentials

        contract = TestInstagramAdapter()
        account = next(a for a in ig.list_accounts(tokens=contract.connect(ig))
                       if a.account_id == "17841400000000001")
        return Credentials(account.account_id, account.access_token, details=dict(account.details))

    def content(self, simulator, **kw):
        import uuid

        from platforms import PostContent

        kw.setdefault("media_urls", [simulator.media_url()])
        return PostContent(text=f"Greens report {uuid.uuid4().hex[:8]}", **kw)

    def containers_created(self, simulator):
        return [r for r in simulator.requests(platform="instagram") if r["method"] == "POST"
                and r["path"].endswith("/media")]

    def test_scopes_ask_for_business_manager_pages(self, ig):
        assert "business_management" in ig.scopes

    def test_a_reel_taking_90_seconds_resumes_on_its_one_container(self, ig, creds, simulator):
        from platforms import ProcessingPending

        simulator.set_processing("instagram", seconds=90)
        content, progress, cycles = self.content(simulator, media_urls=[simulator.video_url()]), {}, 0
        while True:
            try:
                result = ig.publish_resuming(credentials=creds, content=content, progress=progress)
                break
            except ProcessingPending as pending:
                assert pending.retry_after >= 0.02
                cycles += 1
                assert cycles < 10
                simulator.advance_clock(25)
        assert cycles >= 3
        assert len(self.containers_created(simulator)) == 1
        assert [p["post_id"] for p in simulator.published(platform="instagram")] == [result.platform_post_id]

    def test_polling_never_runs_faster_than_the_interval(self, ig, creds, simulator, settings):
        import time

        from platforms import ProcessingPending

        settings.MEDIA_PROCESSING_POLL_INTERVAL = 0.2
        settings.MEDIA_PROCESSING_WAIT_IN_CALL = 1.0
        simulator.set_processing("instagram", seconds=600)
        started = time.monotonic()
        with pytest.raises(ProcessingPending):
            ig.publish(credentials=creds, content=self.content(simulator, media_urls=[simulator.video_url()]))
        polls = [r for r in simulator.requests(platform="instagram") if r["method"] == "GET"
                 and r["query"].get("fields") == "status_code,status"]
        assert 2 <= len(polls) <= 1 + (time.monotonic() - started) / 0.2

    def test_an_image_is_polled_again_after_a_second_not_after_the_video_interval(self, ig, creds, simulator,
                                                                                     settings):
        import time

        from platforms import ProcessingPending

        settings.MEDIA_PROCESSING_POLL_INTERVAL = 5.0
        settings.MEDIA_PROCESSING_IMAGE_POLL_INTERVAL = 0.1
        settings.MEDIA_PROCESSING_WAIT_IN_CALL = 20.0
        started = time.monotonic()
        result = ig.publish(credentials=creds, content=self.content(simulator))  # the image needs a second poll
        assert time.monotonic() - started < 3.0
        assert [p["post_id"] for p in simulator.published(platform="instagram")] == [result.platform_post_id]
        # A video keeps the slower interval, whatever the image one says.
        settings.MEDIA_PROCESSING_POLL_INTERVAL = 0.2
        settings.MEDIA_PROCESSING_IMAGE_POLL_INTERVAL = 0.01
        settings.MEDIA_PROCESSING_WAIT_IN_CALL = 1.0
        simulator.set_processing("instagram", seconds=600)
        since = max((r["seq"] for r in simulator.requests()), default=0)
        started = time.monotonic()
        with pytest.raises(ProcessingPending):
            ig.publish(credentials=creds, content=self.content(simulator, media_urls=[simulator.video_url()]))
        polls = [r for r in simulator.requests(platform="instagram") if r["seq"] > since and r["method"] == "GET"
                 and r["query"].get("fields") == "status_code,status"]
        assert 2 <= len(polls) <= 1 + (time.monotonic() - started) / 0.2

    def test_an_expired_container_is_rebuilt_and_a_failed_one_forgotten(self, ig, creds, simulator):
        from platforms import ProcessingPending, TransientError

        simulator.set_processing("instagram", seconds=120)
        content, progress = self.content(simulator, media_urls=[simulator.video_url()]), {}
        with pytest.raises(ProcessingPending):
            ig.publish_resuming(credentials=creds, content=content, progress=progress)
        first = progress["container"]
        simulator.advance_clock(24 * 3600 + 5)
        simulator.set_processing("instagram", seconds=0)
        ig.publish_resuming(credentials=creds, content=content, progress=progress)
        assert progress["container"] != first and len(self.containers_created(simulator)) == 2
        simulator.set_processing("instagram", seconds=0, outcome="error")
        failed = {}
        with pytest.raises(TransientError):
            ig.publish_resuming(credentials=creds, content=self.content(simulator, media_urls=[simulator.video_url()]),
                                progress=failed)
        assert "container" not in failed

    def test_the_publishing_limit_is_checked_before_any_container(self, ig, creds, simulator):
        from platforms import RateLimited

        simulator.set_publish_quota(1)
        ig.publish(credentials=creds, content=self.content(simulator))
        before = len(self.containers_created(simulator))
        with pytest.raises(RateLimited) as caught:
            ig.publish(credentials=creds, content=self.content(simulator))
        assert "1 posts a day" in caught.value.message and caught.value.code == "content_publishing_limit"
        assert len(self.containers_created(simulator)) == before

    def test_one_media_with_too_few_viewers_does_not_hide_the_others(self, ig, creds, simulator):
        ids = [ig.publish(credentials=creds, content=self.content(simulator)).platform_post_id for _ in range(3)]
        simulator.advance_clock(3600)
        simulator.set_metrics(ids[1], reach=2, impressions=3)
        metrics = ig.fetch_metrics(credentials=creds, post_ids=ids)
        assert metrics[ids[1]].likes > 0 and (metrics[ids[1]].reach, metrics[ids[1]].impressions) == (None, None)
        for media_id in (ids[0], ids[2]):
            assert metrics[media_id].reach > 0 and metrics[media_id].impressions > 0

    def test_instagram_throttle_80002_waits_for_the_regain_time(self, ig, creds, simulator):
        from datetime import datetime, timezone

        from platforms import RateLimited

        simulator.inject("instagram", "POST */media", "rate_limit", reset_after=1200)
        with pytest.raises(RateLimited) as caught:
            ig.publish(credentials=creds, content=self.content(simulator))
        assert caught.value.code == "80002"
        assert 1100 < (caught.value.reset_at - datetime.now(timezone.utc)).total_seconds() < 1300

    @pytest.mark.parametrize("text,media,expected", [
        (" ".join(f"@golfer{i}" for i in range(21)), None, "20 @mentions"),
        ("Spring", ["https://cdn.example.com/flag.png"], "JPEG images only"),
    ])
    def test_compose_time_refusals(self, ig, text, media, expected):
        from platforms import PostContent

        content = PostContent(text=text, media_urls=media or ["https://cdn.example.com/flag.jpg"])
        assert any(expected in v.message for v in ig.validate(content))
