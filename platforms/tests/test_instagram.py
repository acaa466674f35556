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
