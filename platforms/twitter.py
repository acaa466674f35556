"""X (Twitter) API v2: OAuth 2.0 with PKCE, rotating refresh tokens, posts with images."""

from __future__ import annotations

import logging
import unicodedata
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import requests
from twitter_text import parse_tweet

from . import usage
from .base import (
    Account,
    Credentials,
    Metrics,
    PlatformAdapter,
    PostContent,
    PublishResult,
    RemotePost,
    TokenSet,
    chunked,
    parse_time,
    setting,
    utcnow,
)
from .errors import (
    AuthExpired,
    DuplicateContent,
    InvalidContent,
    NotFound,
    PermissionMissing,
    PlatformError,
    RateLimited,
    TransientError,
)

logger = logging.getLogger("platforms")


class TwitterAdapter(PlatformAdapter):
    platform = "TWITTER"
    slug = "twitter"
    display_name = "X (Twitter)"
    account_type = "profile"
    uses_pkce = True
    required_permissions = ["tweet.read", "tweet.write"]
    scopes = ["tweet.read", "tweet.write", "users.read", "offline.access", "media.write"]
    max_batch = 100
    max_media = 4
    allows_video = False
    length_note = " (links count as 23)"
    client_id_setting = "X_CLIENT_ID"
    client_secret_setting = "X_CLIENT_SECRET"

    def api_url(self, path: str) -> str:
        return f"{setting('X_API_URL', 'https://api.x.com').rstrip('/')}/{path.lstrip('/')}"

    # ------------------------------------------------------------ content

    def text_length(self, content: PostContent) -> int:
        return parse_tweet(unicodedata.normalize("NFC", self.render_text(content))).weightedLength

    # ------------------------------------------------------------ OAuth

    def authorization_url(self, *, redirect_uri: str, state: str, code_verifier: str | None = None) -> str:
        if not code_verifier:
            raise ValueError("X requires PKCE: pass the code_verifier from new_code_verifier()")
        query = urlencode({"response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
                           "scope": " ".join(self.scopes), "state": state,
                           "code_challenge": self.code_challenge(code_verifier), "code_challenge_method": "S256"})
        return f"{setting('X_AUTHORIZE_URL', 'https://x.com/i/oauth2/authorize')}?{query}"

    def token_call(self, data: dict, *, refreshing: bool) -> dict:
        data = {**data, "client_id": self.client_id}
        auth = (self.client_id, self.client_secret) if self.client_secret else None
        try:
            response = self.request("POST", self.api_url("2/oauth2/token"), data=data, auth=auth)
        except PlatformError as exc:
            if exc.status in (400, 401) and refreshing:
                raise AuthExpired("The X (Twitter) connection can no longer be renewed; reconnect the account.",
                                  platform=self.platform, status=exc.status, code=exc.code) from None
            raise
        return self.json_of(response)

    def token_set(self, body: dict) -> TokenSet:
        expires_in = body.get("expires_in")
        return TokenSet(access_token=body["access_token"], refresh_token=body.get("refresh_token"),
                        expires_at=utcnow() + timedelta(seconds=int(expires_in)) if expires_in else None,
                        scopes=(body.get("scope") or "").split())

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None = None) -> TokenSet:
        return self.token_set(self.token_call({"grant_type": "authorization_code", "code": code,
                                               "redirect_uri": redirect_uri, "code_verifier": code_verifier or ""},
                                              refreshing=False))

    def refresh(self, *, credentials: Credentials) -> TokenSet:
        """X refresh tokens are single use: the caller must store the new pair at once."""
        if not credentials.refresh_token:
            raise AuthExpired("The X (Twitter) connection has no refresh token; reconnect the account.",
                              platform=self.platform)
        tokens = self.token_set(self.token_call({"grant_type": "refresh_token",
                                                 "refresh_token": credentials.refresh_token}, refreshing=True))
        logger.info("twitter: refreshed tokens for account %s", credentials.account_id)
        return tokens

    def revoke(self, *, credentials: Credentials) -> None:
        auth = (self.client_id, self.client_secret) if self.client_secret else None
        for token, hint in ((credentials.refresh_token, "refresh_token"), (credentials.access_token, "access_token")):
            if not token:
                continue
            try:
                self.request("POST", self.api_url("2/oauth2/revoke"), auth=auth, account_id=credentials.account_id,
                             data={"token": token, "token_type_hint": hint, "client_id": self.client_id})
            except PlatformError as exc:
                if exc.retryable:
                    raise
                # already dead (e.g. revoking the refresh token also ended the access token)
                logger.info("twitter: %s for account %s was already invalid", hint, credentials.account_id)

    def list_accounts(self, *, tokens: TokenSet) -> list[Account]:
        user = self.json_of(self.request("GET", self.api_url("2/users/me"), token=tokens.access_token,
                                         params={"user.fields": "username,name"})).get("data") or {}
        permissions, missing = self.permission_split(tokens.scopes)
        reason = self.missing_permissions_reason(missing) if missing else ""
        return [Account(account_id=str(user["id"]), name=user.get("name", ""), account_type=self.account_type,
                        access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                        expires_at=tokens.expires_at, permissions=permissions, missing_permissions=missing,
                        details={"username": user.get("username", "")}, can_publish=not reason, reason=reason)]

    # ------------------------------------------------------------ publishing

    def publish(self, *, credentials: Credentials, content: PostContent) -> PublishResult:
        self.ensure_valid(content)
        media_ids = [self.upload_media(url, credentials=credentials) for url in content.media_urls]
        payload: dict = {"text": self.render_text(content)}
        if media_ids:
            payload["media"] = {"media_ids": media_ids}
        body = self.json_of(self.request("POST", self.api_url("2/tweets"), token=credentials.access_token,
                                         account_id=credentials.account_id, json=payload))
        post_id = str(body["data"]["id"])
        return PublishResult(platform_post_id=post_id, platform_url=self.post_url(credentials, post_id))

    def upload_media(self, url: str, *, credentials: Credentials) -> str:
        """The one place that knows X's media upload (v2, simple upload of one image)."""
        data, content_type = self.download(url, kind="image")
        filename = url.rsplit("/", 1)[-1].split("?")[0] or "image"
        response = self.request("POST", self.api_url("2/media/upload"), token=credentials.access_token,
                                account_id=credentials.account_id,
                                files={"media": (filename, data, content_type)},
                                data={"media_category": "tweet_image"})
        body = self.json_of(response)
        found = body.get("data") or body
        media_id = found.get("id") or found.get("media_id_string") or found.get("media_id")
        if not media_id:
            raise TransientError("X (Twitter) did not confirm the image upload; it will be tried again.",
                                 platform=self.platform)
        return str(media_id)

    @staticmethod
    def post_url(credentials: Credentials, post_id: str) -> str:
        username = credentials.details.get("username")
        return f"https://x.com/{username}/status/{post_id}" if username else f"https://x.com/i/web/status/{post_id}"

    # ------------------------------------------------------------ reading

    def recent_posts(self, *, credentials: Credentials, since: datetime) -> list[RemotePost]:
        params = {"start_time": since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "max_results": 100, "tweet.fields": "created_at"}
        posts = []
        for _ in range(5):
            body = self.json_of(self.request("GET", self.api_url(f"2/users/{credentials.account_id}/tweets"),
                                             token=credentials.access_token, account_id=credentials.account_id,
                                             params=params))
            for item in body.get("data") or []:
                created = parse_time(item["created_at"]) if item.get("created_at") else since
                posts.append(RemotePost(platform_post_id=str(item["id"]), text=item.get("text", ""),
                                        created_at=created, platform_url=self.post_url(credentials, str(item["id"]))))
            next_token = (body.get("meta") or {}).get("next_token")
            if not next_token:
                break
            params["pagination_token"] = next_token
        return posts

    def fetch_metrics(self, *, credentials: Credentials, post_ids: list[str]) -> dict[str, Metrics]:
        metrics = {}
        for batch in chunked(list(post_ids), self.max_batch):
            body = self.json_of(self.request("GET", self.api_url("2/tweets"), token=credentials.access_token,
                                             account_id=credentials.account_id,
                                             params={"ids": ",".join(batch), "tweet.fields": "public_metrics"}))
            for item in body.get("data") or []:
                numbers = item.get("public_metrics") or {}
                views = int(numbers.get("impression_count", numbers.get("views", 0)) or 0)
                metrics[str(item["id"])] = Metrics(
                    likes=int(numbers.get("like_count") or 0),
                    comments=int(numbers.get("reply_count") or 0),
                    shares=int(numbers.get("retweet_count", numbers.get("repost_count", 0)) or 0)
                    + int(numbers.get("quote_count") or 0),
                    reach=views, impressions=views)
        return metrics

    # ------------------------------------------------------------ errors and usage

    def record_usage(self, response: requests.Response, account_id: str | None) -> None:
        found = usage.parse_x_rate_limit(response.headers)
        if found is not None and account_id:
            usage.record(self.platform, account_id, found)

    def map_error(self, response: requests.Response) -> PlatformError:
        status, body = response.status_code, self.body_of(response)
        body = body if isinstance(body, dict) else {}
        said = (body.get("detail") or body.get("error_description") or body.get("title")
                or "; ".join(e.get("message", "") for e in body.get("errors") or [] if isinstance(e, dict))
                or f"HTTP {status}")
        code = body.get("error") or body.get("type") or str(status)
        common = {"platform": self.platform, "status": status, "code": code}
        name = self.display_name
        if status == 429:
            reset_at = self.reset_at(response)
            return RateLimited(f"{name} asks us to wait before posting again; it will be tried again "
                               f"after {reset_at:%H:%M} UTC.", reset_at=reset_at,
                               retry_after=max(0.0, (reset_at - utcnow()).total_seconds()), **common)
        if status >= 500:
            return self.transient_for_status(response, f"{name} had a temporary problem (HTTP {status}); "
                                                       "it will be tried again.")
        if status == 401:
            return AuthExpired(f"The {name} connection has expired or was revoked; reconnect the account. ({said})",
                               **common)
        if status == 403 and "duplicate" in said.lower():
            return DuplicateContent(f"{name} refuses a post identical to a recent one. ({said})", **common)
        if status == 403:
            return PermissionMissing(f"{name} refused: the account or app is not allowed to do this. ({said})",
                                     **common)
        if status == 404:
            return NotFound(f"{name} no longer has this item. ({said})", **common)
        if status == 400 and response.request is not None and "/oauth2/" in (response.request.path_url or ""):
            return PlatformError(f"{name} did not accept the authorization: {said} Connect again.", **common)
        if status in (400, 422):
            message = f"{name} refused the content: {said}"
            return InvalidContent(message, violations=[self.violation("text", message)], **common)
        return PlatformError(f"{name} refused the request: {said}", **common)

    @staticmethod
    def reset_at(response: requests.Response) -> datetime:
        try:
            return datetime.fromtimestamp(int(response.headers["x-rate-limit-reset"]), tz=timezone.utc)
        except (KeyError, TypeError, ValueError):
            return utcnow() + timedelta(minutes=15)
