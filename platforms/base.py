"""The adapter contract shared by every platform, and the shared HTTP flow.

A platform module declares its URLs, scopes, limits and response parsing; this base class
owns the session, timeouts, JSON decoding, error mapping, usage recording and scrubbing.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import unicodedata
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from .errors import InvalidContent, PlatformError, TransientError
from .fetch import address_problem, media_fetch
from .scrub import scrub

logger = logging.getLogger("platforms")

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v")
_HASHTAG_RE = re.compile(r"(?<![\w&#])#(\w+)")


def setting(name: str, default: Any = None) -> Any:
    """Read a Django setting at call time; usable before settings are configured."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return getattr(settings, name, default)
    except ImproperlyConfigured:
        return default


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------- data


@dataclass(frozen=True)
class PostContent:
    text: str
    hashtags: list[str] = field(default_factory=list)
    link: str | None = None
    media_urls: list[str] = field(default_factory=list)
    # A description of each image for people who cannot see it, in the order of media_urls ("" for none).
    media_alt: list[str] = field(default_factory=list)

    def alt_for(self, index: int) -> str:
        """The alt text of the media at ``index`` (stripped; "" when it has none)."""
        return (self.media_alt[index] or "").strip() if index < len(self.media_alt) else ""

    def tags(self) -> list[str]:
        """Hashtags without '#', blanks dropped, order kept, repeats removed."""
        seen, tags = set(), []
        for raw in self.hashtags:
            tag = (raw or "").strip().lstrip("#").strip()
            if tag and tag.lower() not in seen:
                seen.add(tag.lower())
                tags.append(tag)
        return tags


@dataclass
class Credentials:
    account_id: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    details: dict = field(default_factory=dict)


@dataclass
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    scopes: list[str] = field(default_factory=list)


@dataclass
class Account:
    account_id: str
    name: str
    account_type: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    permissions: list[str] = field(default_factory=list)
    missing_permissions: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    can_publish: bool = True
    reason: str = ""


@dataclass
class PublishResult:
    platform_post_id: str
    platform_url: str | None


@dataclass
class RemotePost:
    platform_post_id: str
    text: str
    created_at: datetime
    platform_url: str | None = None
    media_count: int | None = None  # None when the platform did not say
    details: dict = field(default_factory=dict)  # what the adapter needs to match it (e.g. X's entities)


@dataclass
class RecentPage:
    posts: list[RemotePost]
    next_cursor: str | None = None


@dataclass
class PostsSince:
    posts: list[RemotePost]
    complete: bool


@dataclass
class Metrics:
    """Counts read from the platform. None means "not available this time" (insights refused,
    too few viewers, a metric the object does not have): never the same as 0."""

    likes: int | None = 0
    comments: int | None = 0
    shares: int | None = 0
    reach: int | None = 0
    impressions: int | None = 0


@dataclass
class MediaFacts:
    """What the app knows of one media file it stores itself (read from the file, not the URL)."""

    url: str
    name: str
    kind: str  # "image" or "video"
    content_type: str
    size: int | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None  # seconds, videos only


@dataclass(frozen=True)
class ImageLimits:
    """What one platform takes as a still image (its official media rules), for normalising uploads."""

    max_bytes: int | None = None
    max_long_side: int | None = None  # pixels on the longer side
    max_width: int | None = None
    jpeg_only: bool = False


@dataclass
class Violation:
    platform: str
    field: str
    message: str


# ---------------------------------------------------------------------------- helpers


def is_web_url(value: str | None) -> bool:
    if not value or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def is_video(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(VIDEO_EXTENSIONS)


def hashtags_in(text: str) -> list[str]:
    return _HASHTAG_RE.findall(text or "")


def aware_from_timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(float(seconds), tz=timezone.utc)


def parse_time(value: str) -> datetime:
    """ISO 8601 as the platforms write it ('2025-11-24T10:00:00+0000', '...Z')."""
    value = value.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    if re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def same_words(a: str | None, b: str | None) -> bool:
    """Equal once runs of whitespace are ignored (platforms trim and fold line breaks)."""
    return " ".join((a or "").split()) == " ".join((b or "").split())


# Open call counters of this thread / task (see `counting_calls`).
_CALL_COUNTERS: ContextVar[tuple[Counter, ...]] = ContextVar("platform_call_counters", default=())
_LONG_ID_RE = re.compile(r"/[0-9]{4,}(?=/|$)")


@contextmanager
def counting_calls() -> Iterator[Counter]:
    """Count the platform calls made inside the block by this thread, keyed by "METHOD /path"
    (numeric ids folded to ":id"). Every attempt counts, also one that failed: platforms bill them."""
    counter: Counter = Counter()
    token = _CALL_COUNTERS.set(_CALL_COUNTERS.get() + (counter,))
    try:
        yield counter
    finally:
        _CALL_COUNTERS.reset(token)


def chunked(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# ---------------------------------------------------------------------------- adapter


class PlatformAdapter(ABC):
    """One platform. A subclass that sets ``platform`` is found by platforms/registry.py."""

    platform: ClassVar[str]  # the code stored in SocialConnection.platform (never change it once used)
    slug: ClassVar[str]
    display_name: ClassVar[str]
    account_type: ClassVar[str]
    position: ClassVar[int] = 100  # where the platform sits in lists and pickers
    uses_pkce: ClassVar[bool] = False
    can_revoke: ClassVar[bool] = True  # whether one account's access can be revoked on its own
    required_permissions: ClassVar[list[str]] = []
    # What each required permission lets SocialCRM do, in staff's words ("publish posts on the Page").
    permission_words: ClassVar[dict[str, str]] = {}
    scopes: ClassVar[list[str]] = []
    # Each scope (or role) by the name the platform's consent screen gives it: staff never see the codes.
    permission_labels: ClassVar[dict[str, str]] = {}
    max_batch: ClassVar[int] = 50
    recent_page_size: ClassVar[int] = 50  # posts per page when looking back through the account
    # the usage key of the call that reads metrics, when the platform limits each endpoint on its own
    metrics_operation: ClassVar[str | None] = None

    # content rules a platform module declares
    max_media: ClassVar[int | None] = None
    requires_media: ClassVar[bool] = False
    allows_video: ClassVar[bool] = True
    max_hashtags_setting: ClassVar[str | None] = None
    max_hashtags_default: ClassVar[int | None] = None
    length_note: ClassVar[str] = ""
    inspects_media: ClassVar[bool] = False  # has rules on the files themselves (media_violations)
    # How the network's feed shows a post (measured facts, cited in docs/simulator.md): the characters
    # shown before a long text is cut (None: shown whole), the words that open the rest, and whether a
    # link in a post without media shows as a link card.
    preview_fold_chars: ClassVar[int | None] = None
    preview_more_label: ClassVar[str] = "See more"
    preview_link_card: ClassVar[bool] = True
    max_length_default: ClassVar[int]  # characters, counted as the platform counts them; POST_MAX_LENGTH overrides

    # tokens: rotating ones are refreshed this long before they expire (TOKEN_REFRESH_AHEAD_SECONDS
    # overrides); long-lived ones cannot be refreshed, only checked once a day
    long_lived_tokens: ClassVar[bool] = False
    refresh_ahead_seconds_default: ClassVar[int | None] = None

    # names of the settings holding this platform's app credentials
    client_id_setting: ClassVar[str] = ""
    client_secret_setting: ClassVar[str] = ""

    def __init__(self) -> None:
        self.session = requests.Session()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.platform}>"

    # ------------------------------------------------------------ app credentials

    @property
    def client_id(self) -> str:
        return setting(self.client_id_setting, "") or ""

    @property
    def client_secret(self) -> str:
        return setting(self.client_secret_setting, "") or ""

    # ------------------------------------------------------------ OAuth

    @abstractmethod
    def authorization_url(self, *, redirect_uri: str, state: str, code_verifier: str | None = None) -> str: ...

    def new_code_verifier(self) -> str | None:
        return secrets.token_urlsafe(64) if self.uses_pkce else None

    @staticmethod
    def code_challenge(code_verifier: str) -> str:
        digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    @abstractmethod
    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None = None) -> TokenSet: ...

    @abstractmethod
    def list_accounts(self, *, tokens: TokenSet) -> list[Account]: ...

    @abstractmethod
    def refresh(self, *, credentials: Credentials) -> TokenSet: ...

    @abstractmethod
    def revoke(self, *, credentials: Credentials) -> None: ...

    def permission_split(self, granted: list[str]) -> tuple[list[str], list[str]]:
        granted_set = set(granted)
        missing = [p for p in self.required_permissions if p not in granted_set]
        return sorted(granted_set), missing

    def permission_in_words(self, permission: str) -> str:
        """What a permission lets SocialCRM do, then its name on the consent screen; never the scope code."""
        words = self.permission_words.get(permission)
        label = self.permission_label(permission)
        return f"{words} (“{label}”)" if words else f"use “{label}”"

    def permission_label(self, code: str) -> str:
        return self.permission_labels.get(code, code)

    def missing_permissions_reason(self, missing: list[str]) -> str:
        names = ", ".join(f"“{self.permission_label(p)}”" for p in missing)
        return (f"{self.display_name} did not grant the permission{'s' if len(missing) > 1 else ''} "
                f"needed to publish: {names}. Connect again and allow {'them' if len(missing) > 1 else 'it'}.")

    def permission_refusal(self, said: str) -> str:
        """A plain sentence for a refusal for want of a permission, naming it when the platform's text does."""
        for code, label in self.permission_labels.items():
            if re.search(rf"(?<![\w.]){re.escape(code)}(?![\w.])", said or ""):
                return f"{self.display_name} needs the “{label}” permission. Reconnect the account and tick it."
        return (f"{self.display_name} refused: the account lacks a permission. Reconnect the account and "
                "allow everything it asks for.")

    # ------------------------------------------------------------ content

    def render_text(self, content: PostContent) -> str:
        return self.compose(content, with_link=True)

    def compose(self, content: PostContent, *, with_link: bool) -> str:
        """Text, then the link, then the hashtags not already written in the text."""
        parts = [content.text.strip()]
        if with_link and content.link and content.link not in content.text:
            parts.append(content.link.strip())
        present = {t.lower() for t in hashtags_in(content.text)}
        extra = [t for t in content.tags() if t.lower() not in present]
        if extra:
            parts.append(" ".join(f"#{t}" for t in extra))
        return "\n\n".join(p for p in parts if p)

    def text_length(self, content: PostContent) -> int:
        return len(unicodedata.normalize("NFC", self.render_text(content)))

    def max_length(self) -> int:
        limits = setting("POST_MAX_LENGTH", None) or {}
        override = limits.get(self.platform)
        return int(override) if override is not None else self.max_length_default

    def max_hashtags(self) -> int | None:
        if not self.max_hashtags_setting:
            return None
        override = setting(self.max_hashtags_setting, None)
        return int(override) if override is not None else self.max_hashtags_default

    def media_required_reason(self) -> str:
        """Why an announcement for an event without an image skips this platform (requires_media)."""
        return f"{self.display_name} skipped: the event has no image and {self.display_name} posts need one"

    def refresh_ahead_seconds(self) -> int | None:
        """How long before expiry a rotating token is refreshed; None for long-lived tokens."""
        if self.long_lived_tokens:
            return None
        override = (setting("TOKEN_REFRESH_AHEAD_SECONDS", None) or {}).get(self.platform)
        return int(override) if override is not None else self.refresh_ahead_seconds_default

    def violation(self, field_name: str, message: str) -> Violation:
        return Violation(platform=self.platform, field=field_name, message=message)

    def validate(self, content: PostContent) -> list[Violation]:
        """Every rule this platform's post breaks, all at once, without any network call."""
        name, found = self.display_name, []
        media = list(content.media_urls)
        if not content.text.strip() and not media:
            found.append(self.violation("text", f"{name} needs some text or at least one image."))
        length, limit = self.text_length(content), self.max_length()
        if length > limit:
            found.append(self.violation(
                "text", f"{name} allows {limit:,} characters; this post has {length:,}{self.length_note}."))
        for tag in content.hashtags:
            cleaned = (tag or "").strip().lstrip("#")
            if cleaned and not re.fullmatch(r"\w+", cleaned):
                found.append(self.violation(
                    "hashtags", f"{name}: the hashtag “{cleaned}” can only contain letters, digits and _."))
        max_tags = self.max_hashtags()
        if max_tags is not None:
            count = len(hashtags_in(self.render_text(content)))
            if count > max_tags:
                found.append(self.violation(
                    "hashtags", f"{name} allows at most {max_tags} hashtags; this post has {count}."))
        if content.link is not None and not is_web_url(content.link):
            found.append(self.violation(
                "link", f"{name}: the link must be a web address starting with http:// or https://."))
        bad = [u for u in media if address_problem(u)]
        if bad:
            found.append(self.violation(
                "media", f"{name}: media must be published from a web address (http:// or https://) "
                         "without a user name or password."))
        if self.requires_media and not media:
            found.append(self.violation("media", f"{name} needs at least one image or video."))
        if self.max_media is not None and len(media) > self.max_media:
            found.append(self.violation(
                "media", f"{name} allows at most {self.max_media} images or videos in one post; "
                         f"this post has {len(media)}."))
        if not self.allows_video and any(is_video(u) for u in media):
            found.append(self.violation("media", f"{name} posts from SocialCRM can carry images only."))
        found.extend(self.alt_text_violations(content))
        found.extend(self.extra_violations(content))
        return found

    def extra_violations(self, content: PostContent) -> list[Violation]:
        return []

    # alt text: whether the platform takes a description of each image, and its documented length limit
    takes_alt_text: ClassVar[bool] = False
    alt_text_max_length: ClassVar[int | None] = None
    # still images this platform takes (size, dimensions, format): uploads are normalised to fit every platform
    image_limits: ClassVar[ImageLimits] = ImageLimits()

    def alt_text_violations(self, content: PostContent) -> list[Violation]:
        limit = self.alt_text_max_length
        if limit is None or not self.takes_alt_text:
            return []
        found = []
        for index, url in enumerate(content.media_urls):
            length = len(content.alt_for(index))
            if length > limit:
                found.append(self.violation(
                    "media", f"{self.display_name} takes image descriptions (alt text) of at most {limit:,} "
                             f"characters; the one for {url.rsplit('/', 1)[-1]} has {length:,}."))
        return found

    # largest file this platform takes, by media type or its main type ("image/gif", "image", "video")
    media_max_bytes: ClassVar[dict[str, int]] = {}

    def media_size_violations(self, files: list[tuple[str, str, int]]) -> list[Violation]:
        """Rules on the files themselves, as (name, content type, size in bytes); no network call."""
        found = []
        for name, content_type, size in files:
            main = content_type.split("/", 1)[0]
            limit = self.media_max_bytes.get(content_type, self.media_max_bytes.get(main))
            if limit is not None and size > limit:
                what = {"image/gif": "GIFs", "image": "images", "video": "videos"}.get(
                    content_type if content_type in self.media_max_bytes else main, "files")
                found.append(self.violation(
                    "media", f"{self.display_name} takes {what} of at most {limit / (1024 * 1024):g} MB; "
                             f"{name} is larger."))
        return found

    def media_violations(self, content: PostContent, facts: list[MediaFacts]) -> list[Violation]:
        """Rules on the media files themselves, given what the app read from the files it stores
        (size by default; format, dimensions or length where a platform overrides this)."""
        return self.media_size_violations([(f.name, f.content_type, f.size or 0) for f in facts])

    def ensure_valid(self, content: PostContent) -> None:
        violations = self.validate(content)
        if violations:
            raise InvalidContent(violations=violations, platform=self.platform)

    # ------------------------------------------------------------ publishing and reading

    @abstractmethod
    def publish(self, *, credentials: Credentials, content: PostContent) -> PublishResult: ...

    def publish_resuming(self, *, credentials: Credentials, content: PostContent, progress: dict,
                         checkpoint=None) -> PublishResult:
        """Publish, keeping in `progress` what a later attempt needs to resume rather than start over.

        Platforms that process media asynchronously (Instagram containers, Facebook videos) store
        the ids of what they created in `progress` and call `checkpoint()` right after, so the
        caller can save it; when the media is still processing they raise ProcessingPending and
        the next call with the same `progress` resumes waiting on the same media. Others simply
        publish."""
        return self.publish(credentials=credentials, content=content)

    def recent_posts(self, *, credentials: Credentials, since: datetime) -> list[RemotePost]:
        """The account's posts created at or after ``since`` (as far as ``posts_since`` could page)."""
        return self.posts_since(credentials=credentials, since=since).posts

    @abstractmethod
    def recent_posts_page(self, *, credentials: Credentials, since: datetime,
                          cursor: str | None = None) -> RecentPage:
        """One page of the account's posts, newest first, from ``cursor`` (None: the newest page).

        ``next_cursor`` is None when the platform has no older page (within ``since`` where the
        platform filters by time)."""

    def posts_since(self, *, credentials: Credentials, since: datetime, max_pages: int | None = None) -> PostsSince:
        """Every post of the account created since ``since``, page by page, newest first.

        ``complete`` says whether the look reached back past ``since`` (a post older than it, or the
        last page): when it is False the caller does not know, and must not conclude "not there"."""
        max_pages = int(max_pages or setting("PUBLISH_RECONCILE_MAX_PAGES", 20) or 20)
        posts, cursor = [], None
        for _ in range(max_pages):
            page = self.recent_posts_page(credentials=credentials, since=since, cursor=cursor)
            posts += [p for p in page.posts if p.created_at >= since]
            if any(p.created_at < since for p in page.posts) or not page.next_cursor:
                return PostsSince(posts=posts, complete=True)
            cursor = page.next_cursor
        return PostsSince(posts=posts, complete=False)

    def same_post(self, *, text: str, media_count: int, created_after: datetime, remote: RemotePost) -> bool:
        """Whether ``remote`` (from recent_posts) is our post: its text as published, its media, its time.

        Platforms that store the text differently from how it was sent override this.
        """
        if remote.created_at < created_after:
            return False
        if remote.media_count is not None and remote.media_count != media_count:
            return False
        return same_words(remote.text, text)

    @abstractmethod
    def fetch_metrics(self, *, credentials: Credentials, post_ids: list[str]) -> dict[str, Metrics]: ...

    # ------------------------------------------------------------ HTTP

    def timeout(self) -> tuple[float, float]:
        total = float(setting("PLATFORM_HTTP_TIMEOUT", 10) or 10)
        return (min(total, 3.05), total)

    def default_headers(self, url: str) -> dict[str, str]:
        return {"Accept": "application/json", "User-Agent": "SocialCRM"}

    def request(self, method: str, url: str, *, token: str | None = None, account_id: str | None = None,
                params: dict | None = None, data: dict | None = None, json: Any = None,
                headers: dict | None = None, files: dict | None = None, auth: Any = None,
                secrets: tuple = (), raw_body: bytes | None = None) -> requests.Response:
        """One call to the platform; any failure leaves as exactly one PlatformError."""
        all_headers = self.default_headers(url)
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        known = {token, self.client_secret, *secrets}
        for values in (params or {}, data or {}):
            known.update(str(v) for k, v in values.items() if k in _SECRET_FIELDS and v)
        path = urlsplit(url).path
        for counter in _CALL_COUNTERS.get():
            counter[f"{method.upper()} {_LONG_ID_RE.sub('/:id', path)}"] += 1
        try:
            response = self.session.request(
                method, url, params=params, data=raw_body if raw_body is not None else data, json=json,
                headers=all_headers, files=files, auth=auth, timeout=self.timeout(), allow_redirects=False)
        except requests.Timeout:
            logger.warning("%s %s %s timed out (account %s)", self.slug, method, path, account_id)
            raise TransientError(
                f"{self.display_name} did not answer within {self.timeout()[1]:g} seconds; it will be tried again.",
                platform=self.platform, code="timeout") from None
        except requests.RequestException as exc:
            logger.warning("%s %s %s failed: %s (account %s)", self.slug, method, path, type(exc).__name__,
                           account_id)
            raise TransientError(
                f"{self.display_name} could not be reached ({type(exc).__name__}); it will be tried again.",
                platform=self.platform, code="network") from None
        logger.debug("%s %s %s -> %s (account %s)", self.slug, method, path, response.status_code, account_id)
        try:
            self.record_usage(response, account_id)
        except Exception:  # usage bookkeeping must never break a call
            logger.exception("%s: could not record usage headers", self.slug)
        if response.status_code >= 400 or self.is_error(response):
            error = self.map_error(response)
            error.message = scrub(error.message, known)
            error.args = (error.message,)
            logger.info("%s %s %s -> %s %s (account %s): %s", self.slug, method, path, response.status_code,
                        type(error).__name__, account_id, error.message)
            raise error
        return response

    def is_error(self, response: requests.Response) -> bool:
        return False

    @abstractmethod
    def map_error(self, response: requests.Response) -> PlatformError: ...

    def record_usage(self, response: requests.Response, account_id: str | None) -> None:
        return None

    def json_of(self, response: requests.Response) -> Any:
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise TransientError(f"{self.display_name} sent an answer that could not be read.",
                                 platform=self.platform, status=response.status_code) from None

    @staticmethod
    def body_of(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return {}

    def transient_for_status(self, response: requests.Response, message: str = "") -> TransientError:
        retry_after = response.headers.get("Retry-After")
        try:
            retry = float(retry_after) if retry_after else None
        except ValueError:
            retry = None
        return TransientError(
            message or f"{self.display_name} is having trouble (HTTP {response.status_code}); it will be tried again.",
            platform=self.platform, status=response.status_code, code=str(response.status_code),
            retry_after=retry)

    def download(self, url: str, *, kind: str = "image", kinds: tuple[str, ...] | None = None) -> tuple[bytes, str]:
        """The bytes of one media file to upload, through the guarded fetcher (our uploads come from storage)."""
        try:
            media = media_fetch(url, kinds=kinds or (kind,))
        except InvalidContent as exc:
            message = f"{self.display_name}: {exc.message[:1].lower()}{exc.message[1:]}"
            raise InvalidContent(message, violations=[self.violation("media", message)],
                                 platform=self.platform) from None
        except TransientError as exc:
            raise TransientError(exc.message, platform=self.platform) from None
        return media.body, media.content_type


_SECRET_FIELDS = {"access_token", "refresh_token", "client_secret", "code", "code_verifier",
                  "fb_exchange_token", "token", "input_token"}
