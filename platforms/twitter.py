"""X (Twitter) API v2: OAuth 2.0 with PKCE, rotating refresh tokens, posts with images, a GIF or a video."""

from __future__ import annotations

import html
import logging
import re
import time
import unicodedata
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import requests
from twitter_text import parse_tweet

from . import usage
from .base import (
    Account,
    Credentials,
    ImageLimits,
    Metrics,
    PlatformAdapter,
    PostContent,
    PublishResult,
    RecentPage,
    RemotePost,
    TokenSet,
    chunked,
    is_video,
    parse_time,
    same_words,
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

MB = 1024 * 1024
CHUNK_BYTES = 4 * MB  # APPEND takes chunks of at most 5 MB
ANIMATED_OR_VIDEO = "X allows up to 4 images, or one GIF, or one video in a post."


class TwitterAdapter(PlatformAdapter):
    platform = "TWITTER"
    slug = "twitter"
    display_name = "X (Twitter)"
    position = 30
    max_length_default = 280
    # A post of at most 280 weighted characters is shown whole: no fold.
    preview_fold_chars = None
    refresh_ahead_seconds_default = 30 * 60
    account_type = "profile"
    uses_pkce = True
    required_permissions = ["tweet.read", "tweet.write"]
    permission_words = {"tweet.read": "read the account's posts", "tweet.write": "publish posts"}
    scopes = ["tweet.read", "tweet.write", "users.read", "offline.access", "media.write"]
    permission_labels = {
        "tweet.write": "Post and repost for you", "tweet.read": "Read posts", "users.read": "Read your profile",
        "offline.access": "Stay connected", "media.write": "Upload media for you",
    }
    max_batch = 100
    recent_page_size = 100
    max_media = 4
    allows_video = True
    length_note = " (links count as 23)"
    metrics_operation = "GET /2/tweets"
    # docs.x.com/x-api/media: image 5 MB, GIF 15 MB, video 512 MB
    media_max_bytes = {"image": 5 * MB, "image/gif": 15 * MB, "video": 512 * MB}
    image_limits = ImageLimits(max_bytes=5 * MB)
    # docs.x.com/x-api/media/create-media-metadata (POST /2/media/metadata, `alt_text.text`): images and GIFs;
    # at most 1,000 characters (developer.x.com media/metadata/create).
    takes_alt_text = True
    alt_text_max_length = 1000
    client_id_setting = "X_CLIENT_ID"
    client_secret_setting = "X_CLIENT_SECRET"

    def api_url(self, path: str) -> str:
        return f"{setting('X_API_URL', 'https://api.x.com').rstrip('/')}/{path.lstrip('/')}"

    # ------------------------------------------------------------ content

    def text_length(self, content: PostContent) -> int:
        return parse_tweet(unicodedata.normalize("NFC", self.render_text(content))).weightedLength

    def extra_violations(self, content: PostContent) -> list:
        media = list(content.media_urls)
        if len(media) > 1 and any(is_video(u) or _is_gif_name(u) for u in media):
            return [self.violation("media", ANIMATED_OR_VIDEO)]
        return []

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
        files = [self.media_file(url) for url in content.media_urls]
        problems = self.media_size_violations([(name, kind, len(data)) for name, kind, data in files])
        if len(files) > 1 and any(kind == "image/gif" or kind.startswith("video/") for _, kind, _ in files):
            problems.append(self.violation("media", ANIMATED_OR_VIDEO))
        if problems:
            raise InvalidContent(violations=problems, platform=self.platform)
        media_ids = [self.upload_media(file, credentials=credentials) for file in files]
        for index, (media_id, (_, kind, _)) in enumerate(zip(media_ids, files, strict=True)):
            alt = content.alt_for(index)
            if alt and kind.startswith("image/"):
                self.describe_media(media_id, alt, credentials=credentials)
        payload: dict = {"text": self.render_text(content)}
        if media_ids:
            payload["media"] = {"media_ids": media_ids}
        body = self.json_of(self.request("POST", self.api_url("2/tweets"), token=credentials.access_token,
                                         account_id=credentials.account_id, json=payload))
        post_id = str(body["data"]["id"])
        return PublishResult(platform_post_id=post_id, platform_url=self.post_url(credentials, post_id))

    def media_file(self, url: str) -> tuple[str, str, bytes]:
        data, content_type = self.download(url, kinds=("image", "video"))
        name = url.rsplit("/", 1)[-1].split("?")[0] or "media"
        return name, content_type, data

    def upload_media(self, file: tuple[str, str, bytes], *, credentials: Credentials) -> str:
        """The one place that knows X's media upload: still images in one call; GIFs and videos chunked."""
        name, content_type, data = file
        if content_type == "image/gif" or content_type.startswith("video/"):
            return self.upload_chunked(file, credentials=credentials)
        response = self.request("POST", self.api_url("2/media/upload"), token=credentials.access_token,
                                account_id=credentials.account_id,
                                files={"media": (name, data, content_type)},
                                data={"media_category": "tweet_image"})
        return self.media_id_of(self.json_of(response), what="image")

    def describe_media(self, media_id: str, alt: str, *, credentials: Credentials) -> None:
        """Attach the image's description for screen readers before the post names the media."""
        self.request("POST", self.api_url("2/media/metadata"), token=credentials.access_token,
                     account_id=credentials.account_id,
                     json={"id": media_id, "metadata": {"alt_text": {"text": alt}}})

    def media_id_of(self, body: dict, *, what: str) -> str:
        found = body.get("data") or body
        media_id = found.get("id") or found.get("media_id_string") or found.get("media_id")
        if not media_id:
            raise TransientError(f"X (Twitter) did not confirm the {what} upload; it will be tried again.",
                                 platform=self.platform)
        return str(media_id)

    def upload_chunked(self, file: tuple[str, str, bytes], *, credentials: Credentials) -> str:
        """initialize, append each chunk, finalize, then wait until X has processed the GIF or video.

        docs.x.com/x-api/media/initialize-media-upload, .../append-media-upload,
        .../finalize-media-upload, .../get-media-upload-status.
        """
        name, content_type, data = file
        what = "GIF" if content_type == "image/gif" else "video"
        call = {"token": credentials.access_token, "account_id": credentials.account_id}
        body = self.json_of(self.request("POST", self.api_url("2/media/upload/initialize"), json={
            "media_type": content_type, "total_bytes": len(data),
            "media_category": "tweet_gif" if what == "GIF" else "tweet_video"}, **call))
        media_id = self.media_id_of(body, what=what)
        chunk = int(setting("X_MEDIA_CHUNK_BYTES", CHUNK_BYTES) or CHUNK_BYTES)
        for index, piece in enumerate(chunked(data, chunk)):
            self.request("POST", self.api_url(f"2/media/upload/{media_id}/append"),
                         files={"media": (name, piece, "application/octet-stream")},
                         data={"segment_index": str(index)}, **call)
        body = self.json_of(self.request("POST", self.api_url(f"2/media/upload/{media_id}/finalize"), **call))
        self.wait_for_processing(media_id, (body.get("data") or body).get("processing_info"), what=what, **call)
        return media_id

    def wait_for_processing(self, media_id: str, info: dict | None, *, what: str, token: str,
                            account_id: str) -> None:
        """Poll STATUS until processing succeeded; a tweet naming media still in processing is refused."""
        deadline = time.monotonic() + float(setting("X_MEDIA_PROCESSING_TIMEOUT", 300) or 300)
        while info:
            state = info.get("state")
            if state == "succeeded":
                return
            if state == "failed":
                said = (info.get("error") or {}).get("message") or "processing failed"
                message = f"X (Twitter) could not process the {what}: {said}."
                raise InvalidContent(message, violations=[self.violation("media", message)], platform=self.platform)
            if time.monotonic() >= deadline:
                raise TransientError(f"X (Twitter) is still processing the {what}; it will be tried again.",
                                     platform=self.platform)
            wait = setting("X_MEDIA_POLL_INTERVAL", None)
            time.sleep(float(wait) if wait is not None else max(1, int(info.get("check_after_secs") or 1)))
            body = self.json_of(self.request("GET", self.api_url("2/media/upload"), token=token,
                                             account_id=account_id,
                                             params={"command": "STATUS", "media_id": media_id}))
            info = (body.get("data") or body).get("processing_info")

    @staticmethod
    def post_url(credentials: Credentials, post_id: str) -> str:
        username = credentials.details.get("username")
        return f"https://x.com/{username}/status/{post_id}" if username else f"https://x.com/i/web/status/{post_id}"

    # ------------------------------------------------------------ reading

    def recent_posts_page(self, *, credentials: Credentials, since: datetime,
                          cursor: str | None = None) -> RecentPage:
        """GET /2/users/:id/tweets pages with meta.next_token → pagination_token (newest first)."""
        params = {"start_time": since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "max_results": self.recent_page_size, "tweet.fields": "created_at,entities,attachments"}
        if cursor:
            params["pagination_token"] = cursor
        body = self.json_of(self.request("GET", self.api_url(f"2/users/{credentials.account_id}/tweets"),
                                         token=credentials.access_token, account_id=credentials.account_id,
                                         params=params))
        posts = []
        for item in body.get("data") or []:
            created = parse_time(item["created_at"]) if item.get("created_at") else since
            media_keys = (item.get("attachments") or {}).get("media_keys") or []
            posts.append(RemotePost(platform_post_id=str(item["id"]), text=item.get("text", ""),
                                    created_at=created, platform_url=self.post_url(credentials, str(item["id"])),
                                    media_count=len(media_keys),
                                    details={"urls": (item.get("entities") or {}).get("urls") or []}))
        return RecentPage(posts=posts, next_cursor=(body.get("meta") or {}).get("next_token"))

    def same_post(self, *, text: str, media_count: int, created_after: datetime, remote: RemotePost) -> bool:
        """X keeps every link as t.co (plus a t.co link to attached media) and `& < >` HTML-escaped:
        undo both through `entities.urls` before comparing (developer.x.com/en/docs/tco)."""
        if remote.created_at < created_after:
            return False
        if remote.media_count is not None and remote.media_count != media_count:
            return False
        return same_words(self.as_written(remote, text), text)

    @staticmethod
    def as_written(remote: RemotePost, local_text: str) -> str:
        pieces, position, stored = [], 0, remote.text
        urls = sorted((u for u in remote.details.get("urls") or [] if u.get("url")),
                      key=lambda u: stored.find(u["url"]))
        for entity in urls:
            at = stored.find(entity["url"], position)
            if at < 0:
                continue
            pieces.append(html.unescape(stored[position:at]))
            if not entity.get("media_key"):  # the link X appends for attached media is not ours
                expanded = entity.get("expanded_url") or entity["url"]
                bare = re.sub(r"^http://", "", expanded)
                pieces.append(expanded if expanded in local_text or bare not in local_text else bare)
            position = at + len(entity["url"])
        pieces.append(html.unescape(stored[position:]))
        return "".join(pieces)

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
            # X limits each endpoint on its own: a 429 on posting says nothing about reading metrics.
            usage.record(self.platform, account_id, found, operation=self.operation_of(response))

    @staticmethod
    def operation_of(response: requests.Response) -> str | None:
        request = response.request
        if request is None or not request.path_url:
            return None
        path = request.path_url.split("?", 1)[0]
        return f"{request.method} {re.sub(r'/[0-9]{4,}(?=/|$)', '/:id', path)}"

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
            reset_at, daily = self.reset_at(response)
            if daily:
                when = f"{reset_at:%H:%M} UTC" if reset_at.date() == utcnow().date() else f"{reset_at:%d %b %H:%M} UTC"
                message = f"X's daily posting limit for this {daily} is reached until {when}."
            else:
                message = (f"{name} asks us to wait before posting again; it will be tried again "
                           f"after {reset_at:%H:%M} UTC.")
            return RateLimited(message, reset_at=reset_at,
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
            return PermissionMissing(f"{self.permission_refusal(said)} ({said})", **common)
        if status == 404:
            return NotFound(f"{name} no longer has this item. ({said})", **common)
        if status == 400 and response.request is not None and "/oauth2/" in (response.request.path_url or ""):
            return PlatformError(f"{name} did not accept the authorization; connect again. ({said})", **common)
        if status in (400, 422):
            message = f"{name} refused the content: {said}"
            return InvalidContent(message, violations=[self.violation("text", message)], **common)
        return PlatformError(f"{name} refused the request: {said}", **common)

    @staticmethod
    def reset_at(response: requests.Response) -> tuple[datetime, str]:
        """When to try again, and which daily cap is spent ("account", "app" or "" for none).

        A 429 may come from the 15-minute window (x-rate-limit-*) or from a 24-hour cap
        (x-user-limit-24hour-*, x-app-limit-24hour-*); every spent limit must have reset, so the
        latest of their resets applies. The 15-minute reset alone when nothing says what is spent.
        """
        headers = response.headers

        def number(name):
            try:
                return int(headers[name])
            except (KeyError, TypeError, ValueError):
                return None

        window = number("x-rate-limit-reset")
        spent = []  # (reset, daily cap name)
        for prefix, daily in (("x-rate-limit", ""), ("x-user-limit-24hour", "account"),
                              ("x-app-limit-24hour", "app")):
            remaining, reset = number(f"{prefix}-remaining"), number(f"{prefix}-reset")
            if remaining == 0 and reset:
                spent.append((reset, daily))
        if spent:
            reset, daily = max(spent)
            return datetime.fromtimestamp(reset, tz=timezone.utc), daily
        if window:
            return datetime.fromtimestamp(window, tz=timezone.utc), ""
        return utcnow() + timedelta(minutes=15), ""


def _is_gif_name(url: str) -> bool:
    return url.split("?", 1)[0].lower().endswith(".gif")
