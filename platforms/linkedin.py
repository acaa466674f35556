"""LinkedIn organization pages through the versioned REST API (Posts, Images, share statistics)."""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, urlencode, urlsplit

import requests

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
    aware_from_timestamp,
    chunked,
    is_video,
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
    ProcessingPending,
    RateLimited,
    TransientError,
)

logger = logging.getLogger("platforms")

RESERVED = "|{}@[]()<>#\\*_~"
_RESERVED_RE = re.compile("([" + re.escape(RESERVED) + "])")
_ESCAPED_RE = re.compile(r"\\([" + re.escape(RESERVED) + "])")
_HASHTAG_TOKEN_RE = re.compile(r"(?<![\w&#\\])(#\w+)")


def escape_little_text(text: str) -> str:
    """Backslash every reserved character, or LinkedIn silently cuts the post there."""
    return _RESERVED_RE.sub(r"\\\1", text)


def escape_keeping_hashtags(text: str) -> str:
    """Escape everything but the hashtags the writer meant (`#word`)."""
    pieces = _HASHTAG_TOKEN_RE.split(text)
    return "".join(piece if index % 2 else escape_little_text(piece) for index, piece in enumerate(pieces))


def unescape_little_text(text: str) -> str:
    return _ESCAPED_RE.sub(r"\1", text)


# Page roles that may publish as the organization (organizationAcls `role`).
POSTING_ROLES = ("ADMINISTRATOR", "CONTENT_ADMINISTRATOR")
_DUPLICATE_RE = re.compile(r"duplicate of (urn:li:[A-Za-z]+:[\w-]+)", re.IGNORECASE)
_JAVA_EXCEPTION_RE = re.compile(r"^(?:[a-z]\w*\.)+\w*Exception:\s*")
PROGRESS_KEY = "linkedin_media"


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


class LinkedInAdapter(PlatformAdapter):
    platform = "LINKEDIN"
    slug = "linkedin"
    display_name = "LinkedIn"
    position = 40
    max_length_default = 3000
    # The desktop feed folds a post at about 210 characters behind "…see more".
    preview_fold_chars = 210
    preview_more_label = "see more"
    refresh_ahead_seconds_default = 7 * 24 * 3600
    account_type = "company"
    required_permissions = ["w_organization_social"]
    permission_words = {"w_organization_social": "post on the company page"}
    scopes = ["w_organization_social", "r_organization_social", "rw_organization_admin"]
    permission_labels = {
        "w_organization_social": "Create posts for your organization",
        "r_organization_social": "Read your organization's posts",
        "rw_organization_admin": "Manage your organization's pages and reporting",
    }
    max_batch = 50
    max_media = 20
    allows_video = True
    # Images API: at most 36,152,320 pixels (about 6012 px square); Posts API `altText` at most 4,086 characters.
    image_limits = ImageLimits(max_long_side=6012)
    takes_alt_text = True
    alt_text_max_length = 4086
    client_id_setting = "LINKEDIN_CLIENT_ID"
    client_secret_setting = "LINKEDIN_CLIENT_SECRET"

    def oauth_url(self, path: str) -> str:
        return f"{setting('LINKEDIN_OAUTH_URL', 'https://www.linkedin.com/oauth/v2').rstrip('/')}/{path}"

    def rest_url(self, path: str) -> str:
        return f"{setting('LINKEDIN_API_URL', 'https://api.linkedin.com').rstrip('/')}/rest/{path}"

    def default_headers(self, url: str) -> dict[str, str]:
        headers = super().default_headers(url)
        if urlsplit(url).path.startswith("/rest/"):
            headers["LinkedIn-Version"] = str(setting("LINKEDIN_API_VERSION", "202610"))
            headers["X-Restli-Protocol-Version"] = "2.0.0"
        return headers

    # ------------------------------------------------------------ content

    def render_text(self, content: PostContent) -> str:
        # Without images the link becomes the post's article card; with images it stays in the text.
        return self.compose(content, with_link=bool(content.media_urls))

    def commentary(self, content: PostContent) -> str:
        """render_text as LinkedIn's "little text": reserved characters escaped, hashtags kept."""
        return escape_keeping_hashtags(self.render_text(content))

    def text_length(self, content: PostContent) -> int:
        # LinkedIn counts the commentary it receives, escapes included.
        return len(self.commentary(content))

    def extra_violations(self, content: PostContent) -> list:
        media = list(content.media_urls)
        if any(is_video(u) for u in media) and len(media) > 1:
            return [self.violation("media", "LinkedIn posts carry one video on its own, or up to 20 images; "
                                            "this post mixes a video with other media.")]
        return []

    # ------------------------------------------------------------ OAuth

    def authorization_url(self, *, redirect_uri: str, state: str, code_verifier: str | None = None) -> str:
        query = urlencode({"response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
                           "state": state, "scope": " ".join(self.scopes)})
        return f"{self.oauth_url('authorization')}?{query}"

    def token_call(self, data: dict, *, refreshing: bool) -> TokenSet:
        data = {**data, "client_id": self.client_id, "client_secret": self.client_secret}
        try:
            body = self.json_of(self.request("POST", self.oauth_url("accessToken"), data=data))
        except PlatformError as exc:
            if refreshing and exc.status in (400, 401):
                raise AuthExpired("The LinkedIn connection can no longer be renewed; reconnect the account.",
                                  platform=self.platform, status=exc.status, code=exc.code) from None
            raise
        now = utcnow()
        return TokenSet(
            access_token=body["access_token"], refresh_token=body.get("refresh_token") or data.get("refresh_token"),
            expires_at=now + timedelta(seconds=int(body["expires_in"])) if body.get("expires_in") else None,
            refresh_expires_at=(now + timedelta(seconds=int(body["refresh_token_expires_in"]))
                                if body.get("refresh_token_expires_in") else None),
            scopes=[s for s in re.split(r"[,\s]+", body.get("scope") or "") if s])

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None = None) -> TokenSet:
        return self.token_call({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
                               refreshing=False)

    def refresh(self, *, credentials: Credentials) -> TokenSet:
        if not credentials.refresh_token:
            raise AuthExpired("The LinkedIn connection cannot be renewed automatically; reconnect the account.",
                              platform=self.platform)
        return self.token_call({"grant_type": "refresh_token", "refresh_token": credentials.refresh_token},
                               refreshing=True)

    def revoke(self, *, credentials: Credentials) -> None:
        try:
            self.request("POST", self.oauth_url("revoke"), account_id=credentials.account_id,
                         data={"token": credentials.access_token, "client_id": self.client_id,
                               "client_secret": self.client_secret})
        except PlatformError as exc:
            if exc.retryable:
                raise
            logger.info("linkedin: token for account %s was already invalid", credentials.account_id)

    def list_accounts(self, *, tokens: TokenSet) -> list[Account]:
        permissions, missing = self.permission_split(tokens.scopes)
        reason = self.missing_permissions_reason(missing) if missing else ""
        accounts, start, seen = [], 0, set()
        while True:
            # Every role the member holds (one call), then only the roles that may post.
            body = self.get("organizationAcls", token=tokens.access_token, q="roleAssignee", state="APPROVED",
                            start=start, count=50)
            elements = body.get("elements") or []
            for acl in elements:
                urn = acl.get("organization") or acl.get("organizationTarget") or ""
                org_id = urn.rsplit(":", 1)[-1]
                if not org_id or acl.get("role") not in POSTING_ROLES or org_id in seen:
                    continue
                seen.add(org_id)
                org = self.get(f"organizations/{org_id}", token=tokens.access_token, account_id=org_id)
                accounts.append(Account(
                    account_id=org_id, name=org.get("localizedName") or org.get("vanityName") or urn,
                    account_type=self.account_type, access_token=tokens.access_token,
                    refresh_token=tokens.refresh_token, expires_at=tokens.expires_at, permissions=permissions,
                    missing_permissions=missing, details={"urn": urn, "vanity_name": org.get("vanityName", "")},
                    can_publish=not reason, reason=reason))
            total = (body.get("paging") or {}).get("total")
            start += len(elements)
            if not elements or total is None or start >= int(total):
                break
        return accounts

    # ------------------------------------------------------------ calls

    def get(self, path: str, *, token: str, account_id: str | None = None, **params) -> dict:
        return self.json_of(self.request("GET", self.rest_url(path), token=token, account_id=account_id,
                                         params=params or None))

    @staticmethod
    def organization_urn(credentials: Credentials) -> str:
        return credentials.details.get("urn") or f"urn:li:organization:{credentials.account_id}"

    # ------------------------------------------------------------ publishing

    def publish(self, *, credentials: Credentials, content: PostContent) -> PublishResult:
        return self.publish_resuming(credentials=credentials, content=content, progress={})

    def publish_resuming(self, *, credentials: Credentials, content: PostContent, progress: dict,
                         checkpoint=None) -> PublishResult:
        """Upload the media (or reuse what an earlier attempt uploaded), wait until LinkedIn has
        processed it, then create the post. Uploaded URNs are kept in `progress` per media address."""
        self.ensure_valid(content)
        author = self.organization_urn(credentials)
        saved = progress.get(PROGRESS_KEY) or {}
        if saved.get("owner") != author:
            saved = {"owner": author, "assets": {}}
        progress[PROGRESS_KEY] = saved

        def save():
            if checkpoint:
                checkpoint()

        assets = [self.media_asset(url, credentials=credentials, owner=author, saved=saved, save=save)
                  for url in content.media_urls]
        self.wait_until_available(content.media_urls, credentials=credentials, saved=saved, save=save)
        body: dict = {
            "author": author, "commentary": self.commentary(content), "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False}
        described = [self.described(asset, content.alt_for(index)) for index, asset in enumerate(assets)]
        if len(assets) == 1:
            body["content"] = {"media": described[0]}
        elif assets:
            body["content"] = {"multiImage": {"images": described}}
        elif content.link:
            body["content"] = {"article": {"source": content.link, "title": self.article_title(content)}}
        response = self.request("POST", self.rest_url("posts"), token=credentials.access_token,
                                account_id=credentials.account_id, json=body)
        urn = response.headers.get("x-restli-id") or (self.body_of(response) or {}).get("id")
        if not urn:
            raise PlatformError("LinkedIn accepted the post but did not say its id.", platform=self.platform,
                                status=response.status_code)
        return PublishResult(platform_post_id=urn, platform_url=post_url(urn))

    @staticmethod
    def described(urn: str, alt: str) -> dict:
        """One media of the post, with its description for screen readers (images only)."""
        return {"id": urn, "altText": alt} if alt and urn.startswith("urn:li:image:") else {"id": urn}

    @staticmethod
    def article_title(content: PostContent) -> str:
        first_line = next((line.strip() for line in content.text.splitlines() if line.strip()), "")
        return first_line[:200] or (urlsplit(content.link or "").hostname or "Link")

    # ------------------------------------------------------------ media

    @staticmethod
    def media_path(urn: str) -> str:
        kind = "videos" if urn.startswith("urn:li:video:") else "images"
        return f"{kind}/{quote(urn, safe='')}"

    def media_status(self, urn: str, *, credentials: Credentials) -> str:
        body = self.get(self.media_path(urn), token=credentials.access_token, account_id=credentials.account_id)
        return str(body.get("status") or "")

    def media_asset(self, url: str, *, credentials: Credentials, owner: str, saved: dict, save) -> str:
        """The URN of this media file on LinkedIn: the one an earlier attempt uploaded if LinkedIn still
        has it (processing or ready), else a fresh upload, recorded at once."""
        known = saved["assets"].get(url)
        if known:
            try:
                status = self.media_status(known["urn"], credentials=credentials)
            except NotFound:
                status = ""
            if status in ("PROCESSING", "AVAILABLE", "PROCESSING_FAILED"):
                return known["urn"]
        urn = (self.upload_video if is_video(url) else self.upload_image)(url, credentials=credentials, owner=owner)
        saved["assets"][url] = {"urn": urn, "uploaded_at": time.time()}
        save()
        return urn

    def wait_until_available(self, urls, *, credentials: Credentials, saved: dict, save) -> None:
        """Poll briefly with backoff; media still processing after that is left to a later attempt."""
        delay = float(setting("LINKEDIN_MEDIA_POLL_SECONDS", 0.5))
        deadline = time.monotonic() + float(setting("LINKEDIN_MEDIA_WAIT_SECONDS", 15))
        pending = list(urls)
        while True:
            waiting = []
            for url in pending:
                urn = saved["assets"][url]["urn"]
                status = self.media_status(urn, credentials=credentials)
                if status == "AVAILABLE":
                    continue
                if status == "PROCESSING_FAILED":
                    del saved["assets"][url]
                    save()
                    message = (f"{self.display_name} could not process the "
                               f"{'video' if is_video(url) else 'image'} {url.rsplit('/', 1)[-1]}; "
                               "use another file.")
                    raise InvalidContent(message, violations=[self.violation("media", message)],
                                         platform=self.platform, code="PROCESSING_FAILED")
                waiting.append(url)
            if not waiting:
                return
            pending = waiting
            if time.monotonic() + delay > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
        oldest = min(saved["assets"][url]["uploaded_at"] for url in pending)
        limit = float(setting("LINKEDIN_MEDIA_PROCESSING_TIMEOUT", 3600))
        if time.time() - oldest > limit:
            # Counted as a failed attempt (not just a wait), so the publisher gives up in the end.
            raise TransientError(f"{self.display_name} has been processing the media for more than "
                                 f"{limit / 60:g} minutes; it will be tried again.", platform=self.platform,
                                 code="processing_timeout")
        raise ProcessingPending(f"{self.display_name} is still processing the media; the post will be created "
                                "once it is ready.", platform=self.platform, code="PROCESSING",
                                retry_after=max(delay, float(setting("LINKEDIN_MEDIA_RETRY_SECONDS", 60))))

    def upload_target(self, url: str) -> str:
        """An upload address LinkedIn gave us, if it is on LinkedIn's own hosts; the token and the bytes
        are never sent anywhere else."""
        parts = urlsplit(url or "")
        api = urlsplit(setting("LINKEDIN_API_URL", "https://api.linkedin.com"))
        hosts = setting("LINKEDIN_UPLOAD_HOSTS", None) or ("www.linkedin.com",)
        if isinstance(hosts, str):
            hosts = [h.strip() for h in hosts.split(",")]
        same_as_api = (parts.scheme, parts.netloc.lower()) == (api.scheme, api.netloc.lower())
        upload_host = parts.scheme == "https" and (parts.hostname or "") in {h.lower() for h in hosts if h}
        if parts.username is None and parts.password is None and (same_as_api or upload_host):
            return url
        raise PlatformError(f"{self.display_name} gave an upload address on another host "
                            f"({parts.hostname or 'none'}); nothing was sent there.", platform=self.platform,
                            code="upload_host", retryable=False)

    def upload_image(self, url: str, *, credentials: Credentials, owner: str) -> str:
        init = self.json_of(self.request(
            "POST", self.rest_url("images"), token=credentials.access_token, account_id=credentials.account_id,
            params={"action": "initializeUpload"}, json={"initializeUploadRequest": {"owner": owner}}))
        value = init.get("value") or {}
        target = self.upload_target(value.get("uploadUrl", ""))
        data, content_type = self.download(url, kind="image")
        self.request("PUT", target, token=credentials.access_token, account_id=credentials.account_id,
                     raw_body=data, headers={"Content-Type": content_type})
        return value["image"]

    def upload_video(self, url: str, *, credentials: Credentials, owner: str) -> str:
        """Videos API: initializeUpload (byte ranges), PUT each part, finalizeUpload with the parts' ETags."""
        data, _content_type = self.download(url, kind="video")
        init = self.json_of(self.request(
            "POST", self.rest_url("videos"), token=credentials.access_token, account_id=credentials.account_id,
            params={"action": "initializeUpload"},
            json={"initializeUploadRequest": {"owner": owner, "fileSizeBytes": len(data),
                                              "uploadCaptions": False, "uploadThumbnail": False}}))
        value = init.get("value") or {}
        instructions = sorted(value.get("uploadInstructions") or [], key=lambda i: int(i.get("firstByte", 0)))
        video = value.get("video")
        next_byte = 0
        for part in instructions:
            first, last = int(part.get("firstByte", -1)), int(part.get("lastByte", -1))
            if first != next_byte or last < first or last >= len(data):
                break
            next_byte = last + 1
        if not video or not instructions or next_byte != len(data):
            raise TransientError("LinkedIn's upload instructions for the video were incomplete; it will be tried "
                                 "again.", platform=self.platform, code="upload_instructions")
        targets = [self.upload_target(part.get("uploadUrl", "")) for part in instructions]
        etags = []
        for part, target in zip(instructions, targets, strict=True):
            # The part URLs are pre-signed: no token goes with the bytes.
            response = self.request("PUT", target, account_id=credentials.account_id,
                                    raw_body=data[int(part["firstByte"]):int(part["lastByte"]) + 1],
                                    headers={"Content-Type": "application/octet-stream"})
            etag = response.headers.get("ETag")
            if not etag:
                raise TransientError("LinkedIn did not confirm a part of the video; it will be tried again.",
                                     platform=self.platform, code="upload_etag")
            etags.append(etag)
        self.request("POST", self.rest_url("videos"), token=credentials.access_token,
                     account_id=credentials.account_id, params={"action": "finalizeUpload"},
                     json={"finalizeUploadRequest": {"video": video, "uploadToken": value.get("uploadToken", ""),
                                                     "uploadedPartIds": etags}})
        return video

    # ------------------------------------------------------------ reading

    def recent_posts_page(self, *, credentials: Credentials, since: datetime,
                          cursor: str | None = None) -> RecentPage:
        """GET /rest/posts?q=author pages by start/count (newest first); it has no time filter, so the
        walk stops at the first post older than ``since``."""
        start, count = int(cursor or 0), self.recent_page_size
        body = self.get("posts", token=credentials.access_token, account_id=credentials.account_id,
                        author=self.organization_urn(credentials), q="author", count=count, start=start)
        posts = []
        elements = body.get("elements") or []
        for item in elements:
            millis = item.get("publishedAt") or item.get("createdAt")
            created = aware_from_timestamp(millis / 1000) if millis else since
            if item.get("id"):
                posts.append(RemotePost(platform_post_id=item["id"],
                                        text=unescape_little_text(item.get("commentary") or ""),
                                        created_at=created, platform_url=post_url(item["id"])))
        paging = body.get("paging") or {}
        total = paging.get("total")
        more = len(elements) >= count if total is None else start + len(elements) < int(total)
        return RecentPage(posts=posts, next_cursor=str(start + len(elements)) if more and elements else None)

    def fetch_metrics(self, *, credentials: Credentials, post_ids: list[str]) -> dict[str, Metrics]:
        entity = quote(self.organization_urn(credentials), safe="")
        metrics = {}
        for batch in chunked(list(post_ids), self.max_batch):
            for param, urns in (("shares", [u for u in batch if ":ugcPost:" not in u]),
                                ("ugcPosts", [u for u in batch if ":ugcPost:" in u])):
                if not urns:
                    continue
                # Rest.li 2.0: URNs encoded inside List(...), the list syntax itself left as is.
                listed = ",".join(quote(u, safe="") for u in urns)
                url = (f"{self.rest_url('organizationalEntityShareStatistics')}?q=organizationalEntity"
                       f"&organizationalEntity={entity}&{param}=List({listed})")
                body = self.json_of(self.request("GET", url, token=credentials.access_token,
                                                 account_id=credentials.account_id))
                for element in body.get("elements") or []:
                    urn = element.get("share") or element.get("ugcPost")
                    numbers = element.get("totalShareStatistics") or {}
                    if urn:
                        metrics[urn] = Metrics(
                            likes=int(numbers.get("likeCount") or 0), comments=int(numbers.get("commentCount") or 0),
                            shares=int(numbers.get("shareCount") or 0),
                            reach=int(numbers.get("uniqueImpressionsCount") or 0),
                            impressions=int(numbers.get("impressionCount") or 0))
        return metrics

    # ------------------------------------------------------------ errors

    def map_error(self, response: requests.Response) -> PlatformError:
        status, body = response.status_code, self.body_of(response)
        body = body if isinstance(body, dict) else {}
        input_errors = ((body.get("errorDetails") or {}).get("inputErrors")) or []
        codes = {str(e.get("code")) for e in input_errors if isinstance(e, dict)} | {str(body.get("code"))}
        said = (body.get("message") or body.get("error_description")
                or "; ".join(str(e.get("description", "")) for e in input_errors if isinstance(e, dict))
                or f"HTTP {status}")
        said = _JAVA_EXCEPTION_RE.sub("", str(said))  # "com.linkedin....Exception: " says nothing to staff
        code = body.get("serviceErrorCode") or body.get("code") or body.get("error") or str(status)
        common = {"platform": self.platform, "status": status, "code": code}
        name = self.display_name
        if status == 426 or codes & {"NONEXISTENT_VERSION", "VERSION_MISSING"}:
            return PlatformError(
                f"LinkedIn no longer accepts API version {setting('LINKEDIN_API_VERSION', '202610')}; "
                "the operator must update the LINKEDIN_API_VERSION setting.", retryable=False, **common)
        if status == 429:
            now = utcnow()
            reset_at = datetime(now.year, now.month, now.day, tzinfo=timezone.utc) + timedelta(days=1)
            return RateLimited("LinkedIn's daily limit is reached; it will be tried again after midnight UTC.",
                               reset_at=reset_at, retry_after=(reset_at - now).total_seconds(), **common)
        if status >= 500:
            return self.transient_for_status(response, f"{name} had a temporary problem (HTTP {status}); "
                                                       "it will be tried again.")
        if status == 401:
            return AuthExpired(f"The {name} connection has expired or was revoked; reconnect the account. ({said})",
                               **common)
        if status == 403:
            return PermissionMissing(f"{self.permission_refusal(said)} ({said})", **common)
        if status == 404:
            return NotFound(f"{name} no longer has this item. ({said})", **common)
        duplicate = _DUPLICATE_RE.search(said)
        if "DUPLICATE_POST" in codes or (status == 422 and duplicate):
            # 422 "Content is a duplicate of urn:li:share:…": the URN is the earlier post with this text.
            earlier = f" It is already published as {duplicate.group(1)}." if duplicate else ""
            return DuplicateContent(f"{name} refuses a post identical to a recent one.{earlier}",
                                    **{**common, "code": "DUPLICATE_POST"})
        if status == 400 and urlsplit(response.url or "").path.startswith("/oauth"):
            return PlatformError(f"{name} did not accept the authorization; connect again. ({said})", **common)
        if status in (400, 422):
            message = f"{name} refused the content: {said}"
            return InvalidContent(message, violations=[self.violation("text", message)], **common)
        return PlatformError(f"{name} refused the request: {said}", **common)
