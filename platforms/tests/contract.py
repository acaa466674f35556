"""One contract every adapter honours, run against the simulator over real HTTP.

Each platform's test module subclasses AdapterContract (as allauth's OAuth2TestsMixin) and
declares what the seeded world should look like from that platform.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from platforms import (
    Account,
    AuthExpired,
    Credentials,
    DuplicateContent,
    PermissionMissing,
    PlatformError,
    PostContent,
    RateLimited,
    TokenSet,
    TransientError,
    adapter_for_slug,
)

REDIRECT_URI = "http://testserver/connections/callback/{slug}/"


# ------------------------------------------------------------------ consent pages, driven by HTTP


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action, self.method, self.fields, self.buttons = None, "get", [], []
        self._button = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action, self.method = attrs.get("action") or "", (attrs.get("method") or "get").lower()
        elif tag == "input":
            kind = (attrs.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind == "submit":
                self.buttons.append({"name": attrs.get("name"), "value": attrs.get("value", ""),
                                     "label": attrs.get("value", "")})
            elif attrs.get("name"):
                self.fields.append((attrs["name"], attrs.get("value", "")))
        elif tag == "button":
            self._button = {"name": attrs.get("name"), "value": attrs.get("value", ""), "label": ""}

    def handle_data(self, data):
        if self._button is not None:
            self._button["label"] += data

    def handle_endtag(self, tag):
        if tag == "button" and self._button is not None:
            self.buttons.append(self._button)
            self._button = None


def click_consent(authorization_url: str, decision: str = "Allow") -> str:
    """Open the consent page as a browser would, press a button, return where it redirects."""
    with requests.Session() as browser:
        page = browser.get(authorization_url, timeout=5, allow_redirects=False)
        assert page.status_code == 200, page.text[:300]
        form = _FormParser()
        form.feed(page.text)
        button = next(b for b in form.buttons if b["label"].strip().lower() == decision.lower())
        data = list(form.fields) + ([(button["name"], button["value"])] if button["name"] else [])
        answer = browser.request(form.method.upper(), urljoin(page.url, form.action), data=data, timeout=5,
                                 allow_redirects=False)
        assert answer.status_code in (302, 303), answer.text[:300]
        return answer.headers["Location"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# ------------------------------------------------------------------ the contract


class AdapterContract:
    slug: str
    sim_platform: str                 # the simulator's name for the platform
    main_account_id: str
    url_pattern: str                  # platform_url as the platform gives it
    publish_endpoint: str             # fault pattern matching the call that creates the post
    read_endpoint: str                # fault pattern matching the call recent_posts makes
    token_platform: str = ""          # whose tokens the simulator revokes (Instagram uses Facebook's)
    records_usage = True
    read_usage_operation: str | None = None  # the usage key of recent_posts' call, where kept per endpoint
    supports_link = True

    # ---------------------------------------------------------------- fixtures

    @pytest.fixture
    def adapter(self, simulator, simulator_settings, settings):
        from django.core.cache import cache

        cache.clear()
        settings.MEDIA_PROCESSING_POLL_INTERVAL = 0.02
        settings.X_MEDIA_POLL_INTERVAL = 0.05
        return adapter_for_slug(self.slug)

    @pytest.fixture
    def tokens(self, adapter) -> TokenSet:
        return self.connect(adapter)

    @pytest.fixture
    def accounts(self, adapter, tokens) -> list[Account]:
        return adapter.list_accounts(tokens=tokens)

    @pytest.fixture
    def credentials(self, accounts) -> Credentials:
        account = next(a for a in accounts if a.account_id == self.main_account_id)
        return Credentials(account_id=account.account_id, access_token=account.access_token,
                           refresh_token=account.refresh_token, details=dict(account.details))

    @pytest.fixture
    def debug_logs(self, caplog):
        caplog.set_level(logging.DEBUG)
        caplog.set_level(logging.DEBUG, logger="urllib3")  # its request lines are where secrets would leak
        return caplog

    # ---------------------------------------------------------------- helpers

    def redirect_uri(self) -> str:
        return REDIRECT_URI.format(slug=self.slug)

    def connect(self, adapter) -> TokenSet:
        state = uuid.uuid4().hex
        verifier = adapter.new_code_verifier()
        location = click_consent(adapter.authorization_url(redirect_uri=self.redirect_uri(), state=state,
                                                           code_verifier=verifier))
        assert location.startswith(self.redirect_uri())
        answer = query_of(location)
        assert answer["state"] == state
        return adapter.exchange_code(code=answer["code"], redirect_uri=self.redirect_uri(), code_verifier=verifier)

    def image(self, simulator, number: int = 1) -> str:
        return f"{simulator.url}/_sim/media/sample{'' if number == 1 else number}.jpg"

    def content(self, simulator, text: str = "", **kw) -> PostContent:
        """A post this platform accepts; unique text so platforms never see a duplicate by accident."""
        return PostContent(text=text or f"Course news {uuid.uuid4().hex[:8]}", **kw)

    def published(self, simulator, post_id: str) -> dict:
        found = [p for p in simulator.published(platform=self.sim_platform) if str(p["post_id"]) == post_id]
        assert len(found) == 1, simulator.published(platform=self.sim_platform)
        return found[0]

    def secrets_of(self, credentials: Credentials, adapter) -> list[str]:
        return [s for s in (credentials.access_token, credentials.refresh_token, adapter.client_secret) if s]

    def assert_no_secrets(self, error: Exception, credentials: Credentials, adapter, logs) -> None:
        for secret in self.secrets_of(credentials, adapter):
            assert secret not in str(error)
            assert secret not in repr(error)
            assert secret not in logs.text
            assert secret not in repr(credentials)

    def fail_next(self, simulator, endpoint: str, kind: str, **options):
        simulator.inject(self.sim_platform, endpoint, kind, **options)

    def calls_during(self, simulator, action, platforms=None) -> list[dict]:
        """Run `action`; the simulator's log of the calls it made (to `platforms`, default this one)."""
        last = max((r["seq"] for r in simulator.requests()), default=0)
        action()
        return [r for r in simulator.requests(since=last) if r["platform"] in (platforms or [self.sim_platform])]

    # ---------------------------------------------------------------- OAuth and accounts

    def test_oauth_round_trip_grants_the_required_permissions(self, adapter, tokens):
        assert tokens.access_token
        assert set(adapter.required_permissions) <= set(tokens.scopes)
        assert tokens.expires_at is None or tokens.expires_at > datetime.now(timezone.utc)
        assert tokens.access_token not in repr(tokens)

    def test_authorization_url_asks_for_the_scopes(self, adapter):
        url = adapter.authorization_url(redirect_uri=self.redirect_uri(), state="abc",
                                        code_verifier=adapter.new_code_verifier())
        asked = set(re.split(r"[ ,]", query_of(url)["scope"]))
        assert set(adapter.required_permissions) <= asked == set(adapter.scopes)
        assert query_of(url)["state"] == "abc"

    def test_a_code_works_only_once(self, adapter):
        state, verifier = "s1", adapter.new_code_verifier()
        code = query_of(click_consent(adapter.authorization_url(
            redirect_uri=self.redirect_uri(), state=state, code_verifier=verifier)))["code"]
        adapter.exchange_code(code=code, redirect_uri=self.redirect_uri(), code_verifier=verifier)
        with pytest.raises(PlatformError) as caught:
            adapter.exchange_code(code=code, redirect_uri=self.redirect_uri(), code_verifier=verifier)
        assert not caught.value.retryable
        assert code not in caught.value.message

    def test_accounts_carry_tokens_permissions_and_publishability(self, accounts):
        self.check_accounts(accounts)
        for account in accounts:
            assert account.access_token and account.access_token not in repr(account)
            assert account.can_publish == (account.reason == "")

    def check_accounts(self, accounts: list[Account]) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- publishing

    def test_publish_text(self, adapter, simulator, credentials):
        content = self.content(simulator)
        result = adapter.publish(credentials=credentials, content=content)
        assert re.fullmatch(self.url_pattern, result.platform_url), result.platform_url
        post = self.published(simulator, result.platform_post_id)
        assert content.text in post["text"]

    def test_publish_link(self, adapter, simulator, credentials):
        if not self.supports_link:
            pytest.skip("links are not part of this platform's posts")
        content = self.content(simulator, link="https://www.pinewoodgolf.com/open-day", hashtags=["golf"])
        result = adapter.publish(credentials=credentials, content=content)
        post = self.published(simulator, result.platform_post_id)
        assert "https://www.pinewoodgolf.com/open-day" in (post.get("link") or "") + post["text"]
        assert "#golf" in post["text"]

    def test_publish_one_image(self, adapter, simulator, credentials):
        result = adapter.publish(credentials=credentials,
                                 content=self.content(simulator, media_urls=[self.image(simulator)]))
        assert re.fullmatch(self.url_pattern, result.platform_url)
        assert len(self.published(simulator, result.platform_post_id)["media"]) == 1

    def test_alt_text_arrives_with_each_image(self, adapter, simulator, credentials):
        """Every platform that takes image descriptions receives each one, in the order of the images."""
        assert adapter.takes_alt_text
        alts = ["The 18th green at dusk, flag in the hole", "Two juniors holding the club trophy"]
        one = adapter.publish(credentials=credentials, content=self.content(
            simulator, media_urls=[self.image(simulator)], media_alt=alts[:1]))
        assert self.published(simulator, one.platform_post_id)["alt_texts"] == alts[:1]
        two = adapter.publish(credentials=credentials, content=self.content(
            simulator, media_urls=[self.image(simulator), self.image(simulator, 2)], media_alt=alts))
        assert self.published(simulator, two.platform_post_id)["alt_texts"] == alts

    def test_an_image_without_alt_text_sends_none(self, adapter, simulator, credentials):
        result = adapter.publish(credentials=credentials, content=self.content(
            simulator, media_urls=[self.image(simulator)], media_alt=["  "]))
        assert self.published(simulator, result.platform_post_id)["alt_texts"] == [""]

    def test_alt_text_over_the_platform_limit_is_refused_before_any_call(self, adapter, simulator, credentials):
        if adapter.alt_text_max_length is None:
            pytest.skip("the platform documents no length limit for image descriptions")
        content = self.content(simulator, media_urls=[self.image(simulator)],
                               media_alt=["x" * (adapter.alt_text_max_length + 1)])
        assert any("alt text" in v.message for v in adapter.validate(content))
        calls = self.calls_during(simulator, lambda: pytest.raises(PlatformError, adapter.publish,
                                                                   credentials=credentials, content=content))
        assert calls == []

    def test_recent_posts_since_a_time_finds_the_published_post(self, adapter, simulator, credentials):
        since = datetime.now(timezone.utc) - timedelta(minutes=1)
        content = self.content(simulator)
        result = adapter.publish(credentials=credentials, content=content)
        found = {p.platform_post_id: p for p in adapter.recent_posts(credentials=credentials, since=since)}
        assert result.platform_post_id in found
        remote = found[result.platform_post_id]
        assert remote.text == adapter.render_text(content)
        assert remote.created_at.tzinfo is not None and remote.created_at >= since - timedelta(seconds=5)
        later = adapter.recent_posts(credentials=credentials, since=datetime.now(timezone.utc) + timedelta(hours=1))
        assert result.platform_post_id not in {p.platform_post_id for p in later}

    def test_metrics_for_several_posts(self, adapter, simulator, credentials):
        ids = [adapter.publish(credentials=credentials, content=self.content(simulator)).platform_post_id
               for _ in range(2)]
        simulator.advance_clock(3600)  # within X's 2-hour token life
        metrics = adapter.fetch_metrics(credentials=credentials, post_ids=ids + [self.unknown_post_id()])
        assert set(metrics) == set(ids)
        for found in metrics.values():
            assert found.likes > 0 and found.impressions >= found.likes
            assert found.comments >= 0 and found.shares >= 0 and found.reach >= 0

    def unknown_post_id(self) -> str:
        raise NotImplementedError

    # ---------------------------------------------------------------- each error class

    def test_server_error_is_transient(self, adapter, simulator, credentials, debug_logs):
        self.fail_next(simulator, self.publish_endpoint, "server_error")
        with pytest.raises(TransientError) as caught:
            adapter.publish(credentials=credentials, content=self.content(simulator))
        assert caught.value.retryable and not isinstance(caught.value, RateLimited)
        self.assert_no_secrets(caught.value, credentials, adapter, debug_logs)

    def test_timeout_is_transient_within_the_timeout_setting(self, adapter, simulator, credentials, settings,
                                                             debug_logs):
        settings.PLATFORM_HTTP_TIMEOUT = 0.5
        self.fail_next(simulator, self.read_endpoint, "timeout", delay=3)
        started = time.monotonic()
        with pytest.raises(TransientError) as caught:
            adapter.recent_posts(credentials=credentials, since=datetime.now(timezone.utc) - timedelta(hours=1))
        assert time.monotonic() - started < 2.5
        assert caught.value.retryable
        self.assert_no_secrets(caught.value, credentials, adapter, debug_logs)

    def test_rate_limit_gives_the_reset_time(self, adapter, simulator, credentials, debug_logs):
        self.fail_next(simulator, self.publish_endpoint, "rate_limit", reset_after=600)
        with pytest.raises(RateLimited) as caught:
            adapter.publish(credentials=credentials, content=self.content(simulator))
        assert caught.value.retryable
        assert abs((caught.value.reset_at - self.expected_reset(600)).total_seconds()) < 90
        self.assert_no_secrets(caught.value, credentials, adapter, debug_logs)

    def expected_reset(self, reset_after: int) -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=reset_after)

    @pytest.mark.parametrize("fault,error_class", [
        ("revoked_token", AuthExpired), ("duplicate", DuplicateContent), ("permission", PermissionMissing),
    ])
    def test_permanent_refusals_are_not_retried(self, adapter, simulator, credentials, debug_logs, fault,
                                                error_class):
        self.fail_next(simulator, self.publish_endpoint, fault)
        with pytest.raises(error_class) as caught:
            adapter.publish(credentials=credentials, content=self.content(simulator))
        assert type(caught.value) is error_class and not caught.value.retryable
        self.assert_no_secrets(caught.value, credentials, adapter, debug_logs)

    def test_tokens_revoked_at_the_platform_fail_refresh_or_use(self, adapter, simulator, credentials, debug_logs):
        simulator.revoke_tokens(self.token_platform or self.sim_platform)
        with pytest.raises(AuthExpired) as caught:
            adapter.recent_posts(credentials=credentials, since=datetime.now(timezone.utc) - timedelta(hours=1))
        self.assert_no_secrets(caught.value, credentials, adapter, debug_logs)

    def test_no_token_in_logs_of_a_whole_session(self, adapter, simulator, debug_logs):
        tokens = self.connect(adapter)
        accounts = adapter.list_accounts(tokens=tokens)
        account = next(a for a in accounts if a.account_id == self.main_account_id)
        credentials = Credentials(account.account_id, account.access_token, account.refresh_token,
                                  dict(account.details))
        adapter.publish(credentials=credentials, content=self.content(simulator))
        secrets = {tokens.access_token, tokens.refresh_token, adapter.client_secret,
                   *(a.access_token for a in accounts)} - {None, ""}
        assert any(r.name.startswith("urllib3") for r in debug_logs.records)  # request lines were captured
        assert any(r.name == "platforms" for r in debug_logs.records)
        for record in debug_logs.records:
            for secret in secrets:
                assert secret not in record.getMessage()

    # ---------------------------------------------------------------- usage

    def test_usage_headers_are_recorded(self, adapter, simulator, credentials):
        from platforms import usage

        adapter.recent_posts(credentials=credentials, since=datetime.now(timezone.utc) - timedelta(hours=1))
        recorded = usage.current(adapter.platform, credentials.account_id, self.read_usage_operation)
        if not self.records_usage:
            # A platform that sends no usage headers leaves nothing behind (no made-up figures).
            assert recorded is None
            return
        assert recorded is not None
        self.check_usage(recorded)

    def check_usage(self, recorded) -> None:
        pass
