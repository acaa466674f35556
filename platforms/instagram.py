"""Instagram business accounts (through their Facebook Page): container, wait, publish."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from .base import (
    Account,
    Credentials,
    ImageLimits,
    Metrics,
    PostContent,
    PublishResult,
    RecentPage,
    RemotePost,
    TokenSet,
    Violation,
    is_video,
    parse_time,
    setting,
    utcnow,
)
from .errors import InvalidContent, NotFound, RateLimited, TransientError
from .graph import GraphAdapter, graph_next_cursor

INSIGHT_METRICS = "views,reach,shares"
MAX_MENTIONS = 20
_MENTION_RE = re.compile(r"(?<![\w@])@[A-Za-z0-9._]+")
# Content publishing takes JPEG images only (IG User media reference, image_url).
NOT_JPEG_EXTENSIONS = (".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif")
# Aspect ratio of feed images: 4:5 to 1.91:1.
MIN_IMAGE_RATIO, MAX_IMAGE_RATIO = 4 / 5, 1.91
IMAGE_MAX_BYTES = 8 * 1024 * 1024
# Reels: 3 s to 15 min, at most 300 MB; a video inside a carousel: at most 60 s, 100 MB.
REEL_MIN_SECONDS, REEL_MAX_SECONDS, REEL_MAX_BYTES = 3, 15 * 60, 300 * 1024 * 1024
CAROUSEL_VIDEO_MAX_SECONDS, CAROUSEL_VIDEO_MAX_BYTES = 60, 100 * 1024 * 1024


class _StaleContainer(Exception):
    pass


class InstagramAdapter(GraphAdapter):
    platform = "INSTAGRAM"
    slug = "instagram"
    display_name = "Instagram"
    position = 20
    max_length_default = 2200
    # The feed folds a caption at about 125 characters behind "… more"; links in captions are plain text.
    preview_fold_chars = 125
    preview_more_label = "more"
    preview_link_card = False
    account_type = "business"
    required_permissions = ["instagram_basic", "instagram_content_publish"]
    permission_words = {"instagram_basic": "read the Instagram account", "instagram_content_publish": "publish posts"}
    # business_management: accounts whose Page the person manages through a Business Manager.
    scopes = ["instagram_basic", "instagram_content_publish", "pages_show_list", "pages_read_engagement",
              "instagram_manage_insights", "business_management"]
    permission_labels = {
        "instagram_content_publish": "Create content", "instagram_basic": "Access profile and posts",
        "pages_show_list": "Show the Pages you manage", "pages_read_engagement": "Read content and engagement",
        "instagram_manage_insights": "Read insights", "business_management": "Manage your business",
    }
    # "(#10) Not enough viewers": one media's refusal, the others of a batch still have insights.
    per_item_insight_codes = frozenset({"10"})
    inspects_media = True
    max_media = 10
    requires_media = True
    max_hashtags_setting = "INSTAGRAM_MAX_HASHTAGS"
    max_hashtags_default = 30
    # IG User media reference: JPEG only, at most 8 MB, 320 to 1440 px wide (wider images are scaled down).
    image_limits = ImageLimits(max_bytes=IMAGE_MAX_BYTES, max_width=1440, jpeg_only=True)
    # Image containers take `alt_text` (not Reels or videos); no length limit is documented.
    takes_alt_text = True

    # links are not clickable on Instagram; they are kept in the caption as text (compose default)

    def extra_violations(self, content: PostContent) -> list[Violation]:
        found = []
        mentions = len(_MENTION_RE.findall(self.render_text(content)))
        if mentions > MAX_MENTIONS:
            found.append(self.violation("text", f"Instagram allows at most {MAX_MENTIONS} @mentions in a caption; "
                                                f"this post has {mentions}."))
        if any(urlsplit(u).path.lower().endswith(NOT_JPEG_EXTENSIONS) for u in content.media_urls):
            found.append(self.violation("media", "Instagram takes JPEG images only: upload the image here (it is "
                                                 "converted to JPEG) or use a .jpg address."))
        return found

    def media_violations(self, content: PostContent, facts: list) -> list[Violation]:
        """Rules that need the file itself (our own uploads): format, aspect ratio, size, video length."""
        found, carousel = [], len(content.media_urls) > 1
        for fact in facts:
            name = fact.name
            if fact.kind == "image":
                if fact.content_type != "image/jpeg":
                    found.append(self.violation("media", f"Instagram takes JPEG images only; {name} is not a JPEG."))
                if fact.width and fact.height:
                    ratio = fact.width / fact.height
                    if not MIN_IMAGE_RATIO - 0.005 <= ratio <= MAX_IMAGE_RATIO + 0.005:
                        found.append(self.violation(
                            "media", f"Instagram takes images from 4:5 (portrait) to 1.91:1 (landscape); {name} is "
                                     f"{fact.width}×{fact.height}."))
                if fact.size and fact.size > IMAGE_MAX_BYTES:
                    found.append(self.violation("media", f"Instagram takes images up to 8 MB; {name} is larger."))
            elif fact.kind == "video":
                longest = CAROUSEL_VIDEO_MAX_SECONDS if carousel else REEL_MAX_SECONDS
                biggest = CAROUSEL_VIDEO_MAX_BYTES if carousel else REEL_MAX_BYTES
                where = "in a carousel" if carousel else "as a Reel"
                if fact.duration is not None and not REEL_MIN_SECONDS <= fact.duration <= longest:
                    found.append(self.violation(
                        "media", f"Instagram takes videos {where} from {REEL_MIN_SECONDS} seconds to "
                                 f"{_duration(longest)}; {name} lasts {_duration(fact.duration)}."))
                if fact.size and fact.size > biggest:
                    found.append(self.violation("media", f"Instagram takes videos {where} up to "
                                                         f"{biggest // (1024 * 1024)} MB; {name} is larger."))
        return found

    def list_accounts(self, *, tokens: TokenSet) -> list[Account]:
        granted = self.granted_permissions(tokens.access_token)
        accounts = []
        for page in self.managed_pages(tokens.access_token):
            page_token = page.get("access_token") or tokens.access_token
            try:
                linked = self.get(str(page["id"]), token=page_token, account_id=str(page["id"]),
                                  fields="instagram_business_account").get("instagram_business_account")
            except NotFound:
                continue
            if not linked or not linked.get("id"):
                continue
            ig_id = str(linked["id"])
            profile = self.get(ig_id, token=page_token, account_id=ig_id, fields="id,username,name")
            username = profile.get("username", "")
            account = self.account_for_page(page, granted, account_id=ig_id, name=username or profile.get("name", ""))
            account.details = {"page_id": str(page["id"]), "page_name": page.get("name", ""), "username": username}
            accounts.append(account)
        return accounts

    def publish(self, *, credentials: Credentials, content: PostContent) -> PublishResult:
        return self.publish_resuming(credentials=credentials, content=content, progress={})

    def publish_resuming(self, *, credentials: Credentials, content: PostContent, progress: dict,
                         checkpoint=None) -> PublishResult:
        """Containers, wait for processing, media_publish. The container ids live in `progress`: a
        retry resumes polling them and never creates new ones while they process; an expired
        container is rebuilt, one that ended in ERROR is forgotten so the next attempt rebuilds it."""
        resumable, checkpoint = checkpoint is not None, checkpoint or (lambda: None)
        self.ensure_valid(content)
        ig, call = credentials.account_id, {"token": credentials.access_token, "account_id": credentials.account_id}
        caption, media = self.render_text(content), list(content.media_urls)
        alts = [content.alt_for(i) for i in range(len(media))]
        mark = self.fingerprint(ig, caption, media, *([alts] if any(alts) else []))
        if progress.get("fingerprint") != mark:  # saved with the first container's checkpoint
            progress.clear()
            progress["fingerprint"] = mark
        for _ in range(2):  # one rebuild when a stored container expired
            try:
                container = self.prepare(ig, caption, media, progress, checkpoint, call, alts=alts,
                                         resumable=resumable)
                self.await_processing("the media", lambda c=container: self.container_ready(c, progress, checkpoint,
                                                                                  call), progress, checkpoint,
                                      images_only=not any(is_video(url) for url in media), resumable=resumable)
                break
            except _StaleContainer:
                continue
        else:
            raise TransientError("Instagram let the prepared media expire; it will be prepared again.",
                                 platform=self.platform, code="EXPIRED")
        media_id = str(self.post(f"{ig}/media_publish", data={"creation_id": container}, **call)["id"])
        progress["media_id"] = media_id
        checkpoint()
        return PublishResult(platform_post_id=media_id, platform_url=self.permalink(media_id, "permalink", **call))

    def prepare(self, ig: str, caption: str, media: list[str], progress: dict, checkpoint, call: dict,
                alts: list[str] | None = None, resumable: bool = False) -> str:
        """The container to publish: the stored one, or new ones (checking the publishing limit first)."""
        if progress.get("container"):
            return progress["container"]
        alts = alts or [""] * len(media)
        children = progress.get("children") or []
        if not children:
            self.check_publishing_limit(ig, call)
        if len(media) == 1:
            progress["container"] = self.create_container(ig, {**self.media_fields(media[0], reel=True,
                                                                                   alt=alts[0]),
                                                               "caption": caption}, **call)
            checkpoint()
            return progress["container"]
        progress["children"] = children
        for index in range(len(children), len(media)):
            children.append(self.create_container(ig, {**self.media_fields(media[index], reel=False,
                                                                           alt=alts[index]),
                                                       "is_carousel_item": "true"}, **call))
            checkpoint()
        self.await_processing("the media", lambda: all([self.container_ready(c, progress, checkpoint, call)
                                                        for c in children]), progress, checkpoint,
                              images_only=not any(is_video(url) for url in media), resumable=resumable)
        progress["container"] = self.create_container(ig, {"media_type": "CAROUSEL", "children": ",".join(children),
                                                           "caption": caption}, **call)
        checkpoint()
        return progress["container"]

    def check_publishing_limit(self, ig: str, call: dict) -> None:
        """GET /{ig}/content_publishing_limit before creating anything: a full quota holds the post."""
        try:
            body = self.get(f"{ig}/content_publishing_limit", fields="quota_usage,config", **call)
        except (InvalidContent, NotFound):
            return  # the limit could not be read; media_publish still enforces it
        entry = (body.get("data") or [{}])[0] if isinstance(body.get("data"), list) else {}
        used, total = entry.get("quota_usage"), (entry.get("config") or {}).get("quota_total")
        if isinstance(used, int) and isinstance(total, int) and used >= total:
            wait = float(setting("INSTAGRAM_QUOTA_RESET_DEFAULT", 3600))
            raise RateLimited(f"Instagram allows {total} posts a day through its API and this account has published "
                              f"{used} in the last 24 hours; the post waits and is tried again later.",
                              reset_at=utcnow() + timedelta(seconds=wait), retry_after=wait, platform=self.platform,
                              code="content_publishing_limit")

    @staticmethod
    def media_fields(url: str, *, reel: bool, alt: str = "") -> dict:
        if is_video(url):
            return {"media_type": "REELS" if reel else "VIDEO", "video_url": url}
        return {"image_url": url, **({"alt_text": alt} if alt else {})}

    def create_container(self, ig_id: str, data: dict, *, token: str, account_id: str) -> str:
        return str(self.post(f"{ig_id}/media", data=data, token=token, account_id=account_id)["id"])

    def container_ready(self, container_id: str, progress: dict, checkpoint, call: dict) -> bool:
        body = self.get(container_id, fields="status_code,status", **call)
        status = (body.get("status_code") or "").upper()
        if status in ("FINISHED", "PUBLISHED"):
            return True
        if status in ("EXPIRED", "ERROR"):
            fingerprint = progress.get("fingerprint")
            progress.clear()
            progress["fingerprint"] = fingerprint
            checkpoint()
            if status == "EXPIRED":
                raise _StaleContainer(container_id)
            raise TransientError(f"Instagram could not process the media ({body.get('status') or 'no reason given'})"
                                 "; it will be prepared again.", platform=self.platform, code="ERROR")
        return False

    def recent_posts_page(self, *, credentials: Credentials, since: datetime,
                          cursor: str | None = None) -> RecentPage:
        """GET /{ig-user}/media, cursor-paged like every Graph edge (paging.cursors.after)."""
        params = {"fields": "id,caption,timestamp,permalink", "since": int(since.timestamp()),
                  "limit": self.recent_page_size}
        if cursor:
            params["after"] = cursor
        body = self.get(f"{credentials.account_id}/media", token=credentials.access_token,
                        account_id=credentials.account_id, **params)
        posts = []
        for item in body.get("data", []):
            created = parse_time(item["timestamp"]) if item.get("timestamp") else since
            posts.append(RemotePost(platform_post_id=str(item["id"]), text=item.get("caption", ""),
                                    created_at=created, platform_url=item.get("permalink")))
        return RecentPage(posts=posts, next_cursor=graph_next_cursor(body))

    def fetch_metrics(self, *, credentials: Credentials, post_ids: list[str]) -> dict[str, Metrics]:
        """Likes and comments from the media; views, reach and shares from insights, None when
        Instagram refuses them for a media (too few viewers) or for the account."""
        call = {"token": credentials.access_token, "account_id": credentials.account_id}
        found = self.batch_get(post_ids, fields="like_count,comments_count", insights=INSIGHT_METRICS,
                               period="lifetime", **call)
        metrics = {}
        for media_id, item in found.items():
            views = item["insights"] or {}
            metrics[media_id] = Metrics(
                likes=int(item.get("like_count") or 0), comments=int(item.get("comments_count") or 0),
                shares=views.get("shares"), reach=views.get("reach"),
                impressions=views.get("views", views.get("impressions")))
        return metrics


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"
