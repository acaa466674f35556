"""Instagram business accounts (through their Facebook Page): container, wait, publish."""

from __future__ import annotations

import time
from datetime import datetime

from .base import (
    Account,
    Credentials,
    Metrics,
    PostContent,
    PublishResult,
    RecentPage,
    RemotePost,
    TokenSet,
    is_video,
    parse_time,
    setting,
)
from .errors import InvalidContent, NotFound, TransientError
from .graph import GraphAdapter, graph_next_cursor

INSIGHT_METRICS = "views,reach,shares"


class InstagramAdapter(GraphAdapter):
    platform = "INSTAGRAM"
    slug = "instagram"
    display_name = "Instagram"
    account_type = "business"
    required_permissions = ["instagram_basic", "instagram_content_publish"]
    scopes = ["instagram_basic", "instagram_content_publish", "pages_show_list", "pages_read_engagement",
              "instagram_manage_insights"]
    max_media = 10
    requires_media = True
    max_hashtags_setting = "INSTAGRAM_MAX_HASHTAGS"
    max_hashtags_default = 30

    # links are not clickable on Instagram; they are kept in the caption as text (compose default)

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
        self.ensure_valid(content)
        ig, call = credentials.account_id, {"token": credentials.access_token, "account_id": credentials.account_id}
        caption, media = self.render_text(content), list(content.media_urls)
        if len(media) == 1:
            container = self.create_container(ig, {**self.media_fields(media[0], reel=True), "caption": caption},
                                              **call)
        else:
            children = [self.create_container(ig, {**self.media_fields(url, reel=False),
                                                   "is_carousel_item": "true"}, **call) for url in media]
            for child in children:
                self.wait_until_ready(child, **call)
            container = self.create_container(ig, {"media_type": "CAROUSEL", "children": ",".join(children),
                                                   "caption": caption}, **call)
        self.wait_until_ready(container, **call)
        media_id = str(self.post(f"{ig}/media_publish", data={"creation_id": container}, **call)["id"])
        return PublishResult(platform_post_id=media_id, platform_url=self.permalink(media_id, "permalink", **call))

    @staticmethod
    def media_fields(url: str, *, reel: bool) -> dict:
        if is_video(url):
            return {"media_type": "REELS" if reel else "VIDEO", "video_url": url}
        return {"image_url": url}

    def create_container(self, ig_id: str, data: dict, *, token: str, account_id: str) -> str:
        return str(self.post(f"{ig_id}/media", data=data, token=token, account_id=account_id)["id"])

    def wait_until_ready(self, container_id: str, *, token: str, account_id: str) -> None:
        """Poll the container until Instagram has fetched and processed the media."""
        interval = float(setting("INSTAGRAM_CONTAINER_POLL_INTERVAL", 1.0))
        deadline = time.monotonic() + float(setting("INSTAGRAM_CONTAINER_POLL_TIMEOUT", 60))
        while True:
            body = self.get(container_id, token=token, account_id=account_id, fields="status_code,status")
            status = (body.get("status_code") or "").upper()
            if status in ("FINISHED", "PUBLISHED"):
                return
            if status == "ERROR":
                message = f"Instagram could not process the media: {body.get('status') or 'no reason given'}."
                raise InvalidContent(message, violations=[self.violation("media", message)],
                                     platform=self.platform, code="ERROR")
            if status == "EXPIRED":
                raise TransientError("Instagram let the prepared media expire; it will be prepared again.",
                                     platform=self.platform, code="EXPIRED")
            if time.monotonic() + interval > deadline:
                raise TransientError("Instagram is still processing the media; it will be tried again.",
                                     platform=self.platform, code="IN_PROGRESS")
            time.sleep(interval)

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
        call = {"token": credentials.access_token, "account_id": credentials.account_id}
        found = self.batch_get(post_ids, fields="like_count,comments_count", insights=INSIGHT_METRICS,
                               period="lifetime", **call)
        metrics = {}
        for media_id, item in found.items():
            views = item["insights"]
            metrics[media_id] = Metrics(
                likes=int(item.get("like_count") or 0), comments=int(item.get("comments_count") or 0),
                shares=views.get("shares", 0), reach=views.get("reach", 0),
                impressions=views.get("views", views.get("impressions", 0)))
        return metrics
