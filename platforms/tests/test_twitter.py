from datetime import datetime, timedelta, timezone

import pytest

from platforms import AuthExpired, Credentials, DuplicateContent, PlatformError

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
