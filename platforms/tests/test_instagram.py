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
