import re
from datetime import datetime, timedelta, timezone

import pytest

from platforms import AuthExpired, Credentials, DuplicateContent, PlatformError, RateLimited

from .contract import AdapterContract, click_consent, query_of


class TestTwitterAdapter(AdapterContract):
    slug = "twitter"
    sim_platform = "twitter"
    main_account_id = "1500000000000000001"
    url_pattern = r"https://x\.com/pinewoodgolf/status/\d+"
    publish_endpoint = "POST /2/tweets"
    read_endpoint = "GET /2/users/*"
    read_usage_operation = "GET /2/users/:id/tweets"

    def check_accounts(self, accounts):
        assert len(accounts) == 1
        account = accounts[0]
        assert (account.account_id, account.name, account.account_type) == (
            "1500000000000000001", "Pinewood Golf", "profile")
        assert account.details == {"username": "pinewoodgolf"}
        assert account.refresh_token and account.expires_at and account.can_publish

    def unknown_post_id(self):
        return "1869999999999999999"

    def expected_reset(self, reset_after):
        return datetime.now(timezone.utc) + timedelta(seconds=reset_after)

    def check_usage(self, recorded):
        assert recorded.limit and recorded.remaining is not None and recorded.reset_at

    def test_pkce_verifier_is_checked(self, adapter):
        verifier = adapter.new_code_verifier()
        url = adapter.authorization_url(redirect_uri=self.redirect_uri(), state="s", code_verifier=verifier)
        assert query_of(url)["code_challenge_method"] == "S256"
        code = query_of(click_consent(url))["code"]
        with pytest.raises(PlatformError) as caught:
            adapter.exchange_code(code=code, redirect_uri=self.redirect_uri(),
                                  code_verifier=adapter.new_code_verifier())
        assert not caught.value.retryable

    def test_refresh_rotates_and_the_old_refresh_token_is_refused(self, adapter, credentials):
        fresh = adapter.refresh(credentials=credentials)
        assert fresh.refresh_token and fresh.refresh_token != credentials.refresh_token
        assert fresh.access_token != credentials.access_token
        with pytest.raises(AuthExpired):
            adapter.refresh(credentials=credentials)
        with pytest.raises(AuthExpired):  # the old access token died with the rotation
            adapter.recent_posts(credentials=credentials, since=datetime.now(timezone.utc) - timedelta(hours=1))
        renewed = Credentials(credentials.account_id, fresh.access_token, fresh.refresh_token, credentials.details)
        adapter.recent_posts(credentials=renewed, since=datetime.now(timezone.utc) - timedelta(hours=1))

    def test_expired_access_token_then_refresh(self, adapter, simulator, credentials):
        simulator.advance_clock(7201)
        with pytest.raises(AuthExpired):
            adapter.publish(credentials=credentials, content=self.content(simulator))
        fresh = adapter.refresh(credentials=credentials)
        renewed = Credentials(credentials.account_id, fresh.access_token, fresh.refresh_token, credentials.details)
        assert adapter.publish(credentials=renewed, content=self.content(simulator)).platform_post_id

    def test_revoke_ends_the_tokens(self, adapter, credentials):
        adapter.revoke(credentials=credentials)
        with pytest.raises(AuthExpired):
            adapter.recent_posts(credentials=credentials, since=datetime.now(timezone.utc) - timedelta(hours=1))
        with pytest.raises(AuthExpired):
            adapter.refresh(credentials=credentials)

    def test_post_with_images_uploads_each_first(self, adapter, simulator, credentials):
        content = self.content(simulator, media_urls=[self.image(simulator, 1), self.image(simulator, 2)])
        result = adapter.publish(credentials=credentials, content=content)
        assert len(self.published(simulator, result.platform_post_id)["media"]) == 2
        uploads = [r for r in simulator.requests(platform="twitter") if r["path"] == "/2/media/upload"]
        assert len(uploads) == 2

    def test_same_text_twice_is_a_duplicate(self, adapter, simulator, credentials):
        content = self.content(simulator)
        adapter.publish(credentials=credentials, content=content)
        with pytest.raises(DuplicateContent):
            adapter.publish(credentials=credentials, content=content)

    def test_metrics_are_fetched_100_ids_a_call(self, adapter, simulator, credentials):
        real = adapter.publish(credentials=credentials, content=self.content(simulator)).platform_post_id
        simulator.advance_clock(3600)
        before = len(simulator.requests(platform="twitter"))
        ids = [real] + [str(1869000000000000000 + n) for n in range(149)]
        metrics = adapter.fetch_metrics(credentials=credentials, post_ids=ids)
        assert list(metrics) == [real]
        calls = [r for r in simulator.requests(platform="twitter")[before:] if r["path"] == "/2/tweets"]
        assert len(calls) == 2

    def test_oversized_image_is_refused_before_posting(self, adapter, simulator, credentials, settings):
        from platforms import InvalidContent

        settings.MEDIA_MAX_BYTES = {"image": 100, "video": 100}
        with pytest.raises(InvalidContent) as caught:
            adapter.publish(credentials=credentials,
                            content=self.content(simulator, media_urls=[self.image(simulator)]))
        assert caught.value.message == "X (Twitter): the media file sample.jpg is larger than 100 bytes."
        assert simulator.published(platform="twitter") == []

    # ------------------------------------------------------------ X stores text its own way

    def test_x_keeps_links_as_t_co_and_escapes_and_the_post_is_still_recognised(self, adapter, simulator,
                                                                                 credentials):
        since = datetime.now(timezone.utc) - timedelta(minutes=1)
        content = self.content(simulator, text="Open day & BBQ <free> for members, see pinewoodgolf.com/day.",
                               link="https://www.pinewoodgolf.com/open-day?a=1&b=2")
        sent = adapter.render_text(content)
        result = adapter.publish(credentials=credentials, content=content)
        (remote,) = [p for p in adapter.recent_posts(credentials=credentials, since=since)
                     if p.platform_post_id == result.platform_post_id]
        # what X gives back is not what was sent: links are t.co, & < > are HTML-escaped
        assert "https://t.co/" in remote.text and "&amp; BBQ &lt;free&gt;" in remote.text
        assert "pinewoodgolf.com" not in remote.text and remote.text != sent
        assert adapter.same_post(text=sent, media_count=0, created_after=since, remote=remote)
        assert not adapter.same_post(text=sent + " again", media_count=0, created_after=since, remote=remote)
        assert not adapter.same_post(text=sent, media_count=1, created_after=since, remote=remote)
        assert not adapter.same_post(text=sent, media_count=0, created_after=datetime.now(timezone.utc)
                                     + timedelta(minutes=5), remote=remote)

    def test_the_t_co_link_x_appends_for_media_is_not_part_of_the_text(self, adapter, simulator, credentials):
        since = datetime.now(timezone.utc) - timedelta(minutes=1)
        content = self.content(simulator, text="Course photo & news", media_urls=[self.image(simulator)])
        result = adapter.publish(credentials=credentials, content=content)
        (remote,) = [p for p in adapter.recent_posts(credentials=credentials, since=since)
                     if p.platform_post_id == result.platform_post_id]
        assert re.fullmatch(r"Course photo &amp; news https://t\.co/\w+", remote.text) and remote.media_count == 1
        assert adapter.same_post(text=adapter.render_text(content), media_count=1, created_after=since,
                                 remote=remote)

    # ------------------------------------------------------------ 24-hour caps

    def test_daily_cap_429_waits_for_the_24_hour_reset_not_the_15_minute_one(self, adapter, simulator,
                                                                            credentials):
        simulator.configure_x(user_24h_limit=1)
        adapter.publish(credentials=credentials, content=self.content(simulator))
        with pytest.raises(RateLimited) as caught:
            adapter.publish(credentials=credentials, content=self.content(simulator))
        wait = (caught.value.reset_at - datetime.now(timezone.utc)).total_seconds()
        assert 23 * 3600 < wait <= 24 * 3600 + 60
        assert caught.value.message.startswith("X's daily posting limit for this account is reached until ")

    def test_app_daily_cap_names_the_app_and_the_latest_reset_applies(self, adapter, simulator, credentials):
        simulator.configure_x(app_24h_limit=1)
        adapter.publish(credentials=credentials, content=self.content(simulator))
        simulator.advance_clock(600)  # a later 15-minute window; the 24-hour one still runs
        with pytest.raises(RateLimited) as caught:
            adapter.publish(credentials=credentials, content=self.content(simulator))
        assert "for this app" in caught.value.message
        assert caught.value.reset_at - datetime.now(timezone.utc) > timedelta(hours=23)

    def test_a_posting_429_is_recorded_for_posting_only(self, adapter, simulator, credentials):
        from platforms import usage

        self.fail_next(simulator, self.publish_endpoint, "rate_limit", reset_after=600)
        with pytest.raises(RateLimited):
            adapter.publish(credentials=credentials, content=self.content(simulator))
        assert usage.current(adapter.platform, credentials.account_id, "POST /2/tweets").remaining == 0
        assert not usage.should_slow_down(adapter.platform, credentials.account_id,
                                          operation=adapter.metrics_operation)
        assert usage.should_slow_down(adapter.platform, credentials.account_id, operation="POST /2/tweets")

    # ------------------------------------------------------------ GIF and video

    @pytest.mark.parametrize("name,category,prefix", [("sample.gif", "tweet_gif", "/2/media/upload"),
                                                      ("sample.mp4", "tweet_video", "/2/media/upload")])
    def test_gif_and_video_go_through_the_chunked_upload_and_wait_for_processing(
            self, adapter, simulator, credentials, settings, name, category, prefix):
        simulator.configure_x(processing_seconds=0.3, chunk_max_bytes=16)
        settings.X_MEDIA_CHUNK_BYTES = 16
        content = self.content(simulator, media_urls=[simulator.media_url(name)])
        calls = self.calls_during(simulator, lambda: adapter.publish(credentials=credentials, content=content))
        paths = [(c["method"], c["path"]) for c in calls]
        media_id = next(c for c in calls if c["path"] == "/2/media/upload/initialize")
        assert media_id["body"]["media_category"] == category
        appends = [p for p in paths if p[1].endswith("/append")]
        assert len(appends) >= 3  # the file went in chunks of at most 16 bytes
        assert paths.index(appends[-1]) < next(i for i, p in enumerate(paths) if p[1].endswith("/finalize"))
        statuses = [c for c in calls if (c["method"], c["path"]) == ("GET", "/2/media/upload")]
        assert statuses and statuses[-1]["query"]["command"] == "STATUS"
        tweet = next(c for c in calls if c["path"] == "/2/tweets")
        assert tweet["status"] == 201 and calls.index(tweet) > calls.index(statuses[-1])
        assert ("POST", "/2/media/upload") not in paths  # never the one-shot upload

    def test_failed_processing_is_invalid_content_and_nothing_is_posted(self, adapter, simulator, credentials):
        from platforms import InvalidContent

        simulator.configure_x(processing_seconds=0.1, processing_fails=True)
        with pytest.raises(InvalidContent) as caught:
            adapter.publish(credentials=credentials,
                            content=self.content(simulator, media_urls=[simulator.media_url("sample.mp4")]))
        assert "could not process the video" in caught.value.message
        assert simulator.published(platform="twitter") == []

    def test_a_gif_with_other_media_is_refused_before_any_upload(self, adapter, simulator, credentials):
        from platforms import InvalidContent

        content = self.content(simulator, media_urls=[self.image(simulator), simulator.media_url("sample.gif")])
        calls = []
        with pytest.raises(InvalidContent) as caught:
            calls = self.calls_during(simulator, lambda: adapter.publish(credentials=credentials, content=content))
        assert "one GIF, or one video" in caught.value.message
        assert calls == [] and simulator.published(platform="twitter") == []

    def test_images_over_5_mb_are_refused_by_x_rules(self, adapter, simulator, credentials, settings):
        from platforms import InvalidContent

        adapter.media_max_bytes = {**adapter.media_max_bytes, "image": 100}  # stands in for 5 MB
        with pytest.raises(InvalidContent) as caught:
            adapter.publish(credentials=credentials,
                            content=self.content(simulator, media_urls=[self.image(simulator)]))
        assert "X (Twitter) takes images of at most" in caught.value.message
        assert simulator.published(platform="twitter") == []
