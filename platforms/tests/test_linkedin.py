from datetime import datetime, timedelta, timezone

import pytest

from platforms import AuthExpired, Credentials, DuplicateContent, PlatformError, adapter_for_slug

from .contract import AdapterContract


class TestLinkedInAdapter(AdapterContract):
    slug = "linkedin"
    sim_platform = "linkedin"
    main_account_id = "3001"
    url_pattern = r"https://www\.linkedin\.com/feed/update/urn:li:share:\d+/"
    publish_endpoint = "POST /rest/posts"
    read_endpoint = "GET /rest/posts"
    records_usage = False

    @pytest.fixture
    def adapter(self, simulator, simulator_settings, settings):
        # LinkedIn sunsets versions after about a year: test with last month's, whatever today is.
        today = datetime.now(timezone.utc)
        last_month = (today.replace(day=1) - timedelta(days=1))
        settings.LINKEDIN_API_VERSION = last_month.strftime("%Y%m")
        return adapter_for_slug(self.slug)

    def check_accounts(self, accounts):
        orgs = {a.account_id: a for a in accounts}
        assert set(orgs) == {"3001", "3002"}
        assert orgs["3001"].name == "Pinewood Golf Club" and orgs["3002"].name == "Pinewood Events Ltd"
        assert orgs["3001"].details == {"urn": "urn:li:organization:3001", "vanity_name": "pinewood-golf"}
        assert all(a.can_publish and a.account_type == "company" for a in accounts)

    def unknown_post_id(self):
        return "urn:li:share:7299999999999999999"

    def expected_reset(self, reset_after):
        now = datetime.now(timezone.utc)
        return datetime(now.year, now.month, now.day, tzinfo=timezone.utc) + timedelta(days=1)

    def test_every_rest_call_sends_the_version_headers(self, adapter, simulator, credentials, settings):
        adapter.publish(credentials=credentials, content=self.content(simulator))
        rest = [r for r in simulator.requests(platform="linkedin") if r["path"].startswith("/rest/")]
        assert rest
        for call in rest:
            headers = {k.lower(): v for k, v in call["headers"].items()}
            assert headers["linkedin-version"] == settings.LINKEDIN_API_VERSION
            assert headers["x-restli-protocol-version"] == "2.0.0"

    def test_sunset_version_tells_the_operator(self, adapter, simulator, credentials, settings):
        settings.LINKEDIN_API_VERSION = "202001"
        with pytest.raises(PlatformError) as caught:
            adapter.publish(credentials=credentials, content=self.content(simulator))
        assert not caught.value.retryable and "LINKEDIN_API_VERSION" in caught.value.message

    def test_post_with_an_image(self, adapter, simulator, credentials):
        content = self.content(simulator, text="Greens are (finally) open_today!", hashtags=["golf"],
                               media_urls=[self.image(simulator)])
        result = adapter.publish(credentials=credentials, content=content)
        post = self.published(simulator, result.platform_post_id)
        assert post["media"] and post["media"][0].startswith("urn:li:image:")
        assert post["text"] == "Greens are \\(finally\\) open\\_today!\n\n#golf"

    def test_link_becomes_an_article(self, adapter, simulator, credentials):
        content = self.content(simulator, link="https://www.pinewoodgolf.com/open-day")
        post = self.published(simulator, adapter.publish(credentials=credentials, content=content).platform_post_id)
        assert post["link"] == "https://www.pinewoodgolf.com/open-day"

    def test_same_commentary_twice_is_a_duplicate(self, adapter, simulator, credentials):
        content = self.content(simulator)
        adapter.publish(credentials=credentials, content=content)
        with pytest.raises(DuplicateContent):
            adapter.publish(credentials=credentials, content=content)

    def test_refresh_gives_a_new_access_token(self, adapter, credentials):
        fresh = adapter.refresh(credentials=credentials)
        assert fresh.access_token and fresh.refresh_token
        assert fresh.refresh_expires_at is not None
        renewed = Credentials(credentials.account_id, fresh.access_token, fresh.refresh_token, credentials.details)
        adapter.recent_posts(credentials=renewed, since=datetime.now(timezone.utc) - timedelta(hours=1))

    def test_revoke_ends_the_token(self, adapter, credentials):
        adapter.revoke(credentials=credentials)
        with pytest.raises(AuthExpired):
            adapter.recent_posts(credentials=credentials, since=datetime.now(timezone.utc) - timedelta(hours=1))
