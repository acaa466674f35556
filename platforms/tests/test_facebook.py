import pytest

from platforms import Credentials, PermissionMissing

from .contract import AdapterContract


class TestFacebookAdapter(AdapterContract):
    slug = "facebook"
    sim_platform = "facebook"
    main_account_id = "2001"
    url_pattern = r"https://www\.facebook\.com/2001/posts/\d+"
    publish_endpoint = "POST */feed"
    read_endpoint = "GET */feed"

    def check_accounts(self, accounts):
        pages = {a.account_id: a for a in accounts}
        # 2004 is managed through a Business Manager: listed only because business_management is asked for
        assert set(pages) == {"2001", "2002", "2003", "2004"}
        assert pages["2004"].can_publish
        assert pages["2001"].name == "Pinewood Golf Club" and pages["2001"].account_type == "page"
        assert pages["2001"].can_publish and pages["2002"].can_publish
        assert not pages["2003"].can_publish
        assert pages["2003"].reason == "Your role on this Page cannot create content."
        assert {"pages_manage_posts", "pages_read_engagement"} <= set(pages["2001"].permissions)
        assert pages["2001"].missing_permissions == []
        assert pages["2001"].expires_at is None
        assert len({a.access_token for a in accounts}) == 4

    def unknown_post_id(self):
        return "2001_999999999"

    def check_usage(self, recorded):
        assert recorded.percent is not None

    def test_page_without_content_role_cannot_post(self, adapter, simulator, accounts):
        shop = next(a for a in accounts if a.account_id == "2003")
        with pytest.raises(PermissionMissing):
            adapter.publish(credentials=Credentials(shop.account_id, shop.access_token),
                            content=self.content(simulator))

    def test_link_is_an_attachment_not_message_text(self, adapter, simulator, credentials):
        content = self.content(simulator, link="https://www.pinewoodgolf.com/open-day")
        post = self.published(simulator, adapter.publish(credentials=credentials, content=content).platform_post_id)
        assert post["link"] == "https://www.pinewoodgolf.com/open-day"
        assert post["text"] == content.text

    def test_several_photos_become_one_post(self, adapter, simulator, credentials):
        content = self.content(simulator, media_urls=[self.image(simulator, 1), self.image(simulator, 2)])
        result = adapter.publish(credentials=credentials, content=content)
        assert len(self.published(simulator, result.platform_post_id)["media"]) == 2
        assert [r["path"].rsplit("/", 2)[-2:] for r in simulator.requests(platform="facebook")
                if r["method"] == "POST" and "/2001/" in r["path"]] == [["2001", "photos"]] * 2 + [["2001", "feed"]]

    def test_same_message_twice_is_a_duplicate(self, adapter, simulator, credentials):
        from platforms import DuplicateContent

        content = self.content(simulator)
        adapter.publish(credentials=credentials, content=content)
        with pytest.raises(DuplicateContent):
            adapter.publish(credentials=credentials, content=content)

    def test_refresh_checks_the_page_token_and_keeps_it(self, adapter, simulator, credentials):
        assert adapter.refresh(credentials=credentials).access_token == credentials.access_token

    def test_revoke_leaves_other_pages_connected(self, adapter, simulator, credentials, accounts):
        before = len(simulator.requests(platform="facebook"))
        adapter.revoke(credentials=credentials)
        assert len(simulator.requests(platform="facebook")) == before
        juniors = next(a for a in accounts if a.account_id == "2002")
        adapter.refresh(credentials=Credentials(juniors.account_id, juniors.access_token))

    def test_usage_near_the_limit_asks_callers_to_slow_down(self, adapter, simulator, credentials):
        from datetime import datetime, timedelta, timezone

        from platforms import usage

        simulator.set_usage(platform="facebook", call_count=95)
        adapter.recent_posts(credentials=credentials, since=datetime.now(timezone.utc) - timedelta(hours=1))
        assert usage.should_slow_down("FACEBOOK", "2001")

    def test_refresh_reports_a_dead_page_token(self, adapter, simulator, credentials):
        from platforms import AuthExpired

        simulator.revoke_tokens("facebook", account="2001")
        with pytest.raises(AuthExpired):
            adapter.refresh(credentials=credentials)

    # ---------------------------------------------------------------- metrics: insights in the batched read

    def test_metrics_for_100_posts_take_one_graph_call_per_50(self, adapter, simulator, credentials):
        ids = [adapter.publish(credentials=credentials, content=self.content(simulator)).platform_post_id
               for _ in range(100)]
        simulator.advance_clock(3600)
        simulator.set_metrics(ids[7], likes=8, impressions=1234, reach=567)
        found = {}
        calls = self.calls_during(simulator, lambda: found.update(
            adapter.fetch_metrics(credentials=credentials, post_ids=ids)))
        assert len(calls) == 2
        assert all(r["path"] == "/v25.0/" and "insights.metric(" in r["query"]["fields"] for r in calls)
        assert set(found) == set(ids)
        assert all(m.reach > 0 and m.impressions >= m.reach for m in found.values())
        assert (found[ids[7]].likes, found[ids[7]].impressions, found[ids[7]].reach) == (8, 1234, 567)

    def test_a_deprecated_insights_metric_falls_back_to_counts(self, adapter, simulator, credentials,
                                                              monkeypatch, debug_logs):
        from platforms import facebook

        monkeypatch.setattr(facebook, "INSIGHT_METRICS", "post_impressions,post_impressions_unique")
        ids = [adapter.publish(credentials=credentials, content=self.content(simulator)).platform_post_id
               for _ in range(3)]
        simulator.advance_clock(3600)
        found = {}
        calls = self.calls_during(simulator, lambda: found.update(
            adapter.fetch_metrics(credentials=credentials, post_ids=ids)))
        assert [r["status"] for r in calls] == [400, 200]
        assert "insights" in calls[0]["query"]["fields"] and "insights" not in calls[1]["query"]["fields"]
        assert set(found) == set(ids)
        assert all(m.likes > 0 and m.reach is None and m.impressions is None for m in found.values())
        assert any("insights refused" in r.getMessage() and r.levelname == "INFO" for r in debug_logs.records)
        assert credentials.access_token not in debug_logs.text

    def test_a_permission_error_on_the_batched_read_falls_back_to_counts(self, adapter, simulator, credentials):
        post_id = adapter.publish(credentials=credentials, content=self.content(simulator)).platform_post_id
        simulator.advance_clock(3600)
        self.fail_next(simulator, "GET /", "permission")
        metrics = adapter.fetch_metrics(credentials=credentials, post_ids=[post_id])
        assert metrics[post_id].likes > 0 and (metrics[post_id].reach, metrics[post_id].impressions) == (None, None)


class TestFacebookMetaFidelity:
    """Behaviours of the real Graph API the adapter must honour; each runs against the simulator."""

    @pytest.fixture
    def fb(self, simulator, simulator_settings, settings):
        from django.core.cache import cache

        from platforms import adapter_for_slug

        cache.clear()
        settings.MEDIA_PROCESSING_POLL_INTERVAL = 0.02
        settings.MEDIA_PROCESSING_WAIT_IN_CALL = 1.0
        return adapter_for_slug("facebook")

    @pytest.fixture
    def pages(self, fb):
        contract = TestFacebookAdapter()
        accounts = fb.list_accounts(tokens=contract.connect(fb))
        return {a.account_id: Credentials(a.account_id, a.access_token, details=dict(a.details)) for a in accounts}

    def content(self, **kw):
        import uuid

        from platforms import PostContent

        return PostContent(text=f"Swing clinic {uuid.uuid4().hex[:8]}", **kw)

    def test_scopes_ask_for_video_insights_and_business_pages(self, fb):
        assert {"publish_video", "read_insights", "business_management"} <= set(fb.scopes)

    def test_video_goes_to_the_videos_edge_and_waits_for_processing(self, fb, pages, simulator):
        from platforms import ProcessingPending

        simulator.set_processing("facebook", seconds=45)
        progress, saved = {}, []
        content = self.content(media_urls=[simulator.video_url()])
        with pytest.raises(ProcessingPending) as caught:
            fb.publish_resuming(credentials=pages["2001"], content=content, progress=progress,
                                checkpoint=lambda: saved.append(dict(progress)))
        assert caught.value.retryable and caught.value.retry_after >= 0.02
        assert progress["video_id"] and saved  # the video id was handed over for saving before any wait
        simulator.advance_clock(60)
        result = fb.publish_resuming(credentials=pages["2001"], content=content, progress=progress)
        assert result.platform_post_id == progress["video_id"]
        assert result.platform_url == f"https://www.facebook.com/2001/videos/{result.platform_post_id}/"
        uploads = [r for r in simulator.requests(platform="facebook") if r["method"] == "POST"
                   and r["path"].endswith("/2001/videos")]
        assert len(uploads) == 1 and uploads[0]["body"]["file_url"] == simulator.video_url()
        assert uploads[0]["body"]["description"] == content.text
        assert len(simulator.published(platform="facebook")) == 1

    def test_video_without_publish_video_is_a_permission_error(self, fb, simulator):
        from platforms import PermissionMissing

        without = self.connect_without(fb, "publish_video")
        with pytest.raises(PermissionMissing):
            fb.publish(credentials=without, content=self.content(media_urls=[simulator.video_url()]))

    def test_video_metrics_read_counts_only_and_leave_the_rest_unknown(self, fb, pages, simulator):
        simulator.set_processing("facebook", seconds=0)
        video_id = fb.publish(credentials=pages["2001"],
                              content=self.content(media_urls=[simulator.video_url()])).platform_post_id
        simulator.advance_clock(3600)
        metrics = fb.fetch_metrics(credentials=pages["2001"], post_ids=[video_id])[video_id]
        assert metrics.likes > 0 and metrics.comments >= 0
        assert (metrics.shares, metrics.reach, metrics.impressions) == (None, None, None)

    def connect_without(self, fb, scope):
        from platforms.tests.contract import click_consent, query_of

        url = fb.authorization_url(redirect_uri="http://testserver/cb/", state="s").replace(f"{scope}%2C", "")
        tokens = fb.exchange_code(code=query_of(click_consent(url))["code"], redirect_uri="http://testserver/cb/")
        import requests

        # the person may have granted it before: take it back, as they can in their Facebook settings
        requests.delete(f"{fb.graph_url('me/permissions/' + scope)}", params={"access_token": tokens.access_token},
                        timeout=5).raise_for_status()
        assert scope not in fb.granted_permissions(tokens.access_token)
        page = next(a for a in fb.list_accounts(tokens=tokens) if a.account_id == "2001")
        return Credentials("2001", page.access_token)

    def test_insights_need_read_insights_and_never_come_back_as_zero(self, fb, pages, simulator):
        post_id = fb.publish(credentials=pages["2001"], content=self.content()).platform_post_id
        simulator.advance_clock(3600)
        assert fb.fetch_metrics(credentials=pages["2001"], post_ids=[post_id])[post_id].reach > 0
        without = self.connect_without(fb, "read_insights")
        metrics = fb.fetch_metrics(credentials=without, post_ids=[post_id])[post_id]
        assert metrics.likes > 0 and (metrics.reach, metrics.impressions) == (None, None)

    def test_a_page_under_100_likes_has_no_insights_but_keeps_its_counts(self, fb, pages, simulator):
        post_id = fb.publish(credentials=pages["2002"], content=self.content()).platform_post_id
        simulator.advance_clock(3600)
        metrics = fb.fetch_metrics(credentials=pages["2002"], post_ids=[post_id])[post_id]
        assert metrics.likes > 0 and (metrics.reach, metrics.impressions) == (None, None)

    def test_page_throttle_80001_waits_for_the_regain_time(self, fb, pages, simulator):
        from datetime import datetime, timezone

        from platforms import RateLimited

        simulator.inject("facebook", "POST */feed", "rate_limit", code=80001, reset_after=1800)
        with pytest.raises(RateLimited) as caught:
            fb.publish(credentials=pages["2001"], content=self.content())
        wait = (caught.value.reset_at - datetime.now(timezone.utc)).total_seconds()
        assert 1700 < wait < 1900 and caught.value.code == "80001"

    def test_default_page_throttle_is_the_business_use_case_code(self, fb, pages, simulator):
        from platforms import RateLimited

        simulator.set_usage(platform="facebook", account="2001", call_count=100,
                            estimated_time_to_regain_access=12)
        with pytest.raises(RateLimited) as caught:
            fb.publish(credentials=pages["2001"], content=self.content())
        assert caught.value.code == "80001"
