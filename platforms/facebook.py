"""Facebook Pages: publish to a Page's feed (text, link, photos), read its posts and their metrics."""

from __future__ import annotations

import json
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
    Violation,
    is_video,
    parse_time,
)
from .graph import GraphAdapter, graph_next_cursor

COUNT_FIELDS = "reactions.summary(true),comments.summary(true),shares"
INSIGHT_METRICS = "post_media_view,post_total_media_view_unique"


class FacebookAdapter(GraphAdapter):
    platform = "FACEBOOK"
    slug = "facebook"
    display_name = "Facebook"
    account_type = "page"
    required_permissions = ["pages_manage_posts", "pages_read_engagement"]
    scopes = ["pages_show_list", "pages_manage_posts", "pages_read_engagement"]

    def render_text(self, content: PostContent) -> str:
        # A text post carries the link as an attachment; a photo post has no link field.
        return self.compose(content, with_link=bool(content.media_urls))

    def extra_violations(self, content: PostContent) -> list[Violation]:
        if len(content.media_urls) > 1 and any(is_video(u) for u in content.media_urls):
            return [self.violation("media", "Facebook: a video must be posted on its own, not with other media.")]
        return []

    def list_accounts(self, *, tokens: TokenSet) -> list[Account]:
        granted = self.granted_permissions(tokens.access_token)
        return [self.account_for_page(page, granted) for page in self.managed_pages(tokens.access_token)]

    def publish(self, *, credentials: Credentials, content: PostContent) -> PublishResult:
        self.ensure_valid(content)
        page, token = credentials.account_id, credentials.access_token
        call = {"token": token, "account_id": page}
        message, media = self.render_text(content), list(content.media_urls)
        if not media:
            data = {"message": message}
            if content.link:
                data["link"] = content.link
            post_id = self.post(f"{page}/feed", data=data, **call)["id"]
        elif len(media) == 1 and is_video(media[0]):
            post_id = self.post(f"{page}/videos", data={"file_url": media[0], "description": message}, **call)["id"]
        elif len(media) == 1:
            body = self.post(f"{page}/photos", data={"url": media[0], "caption": message}, **call)
            post_id = body.get("post_id") or body["id"]
        else:
            photo_ids = [self.post(f"{page}/photos", data={"url": url, "published": "false"}, **call)["id"]
                         for url in media]
            data = {"message": message}
            data.update({f"attached_media[{i}]": json.dumps({"media_fbid": pid}) for i, pid in enumerate(photo_ids)})
            post_id = self.post(f"{page}/feed", data=data, **call)["id"]
        return PublishResult(platform_post_id=str(post_id),
                             platform_url=self.permalink(str(post_id), "permalink_url", **call))

    def recent_posts_page(self, *, credentials: Credentials, since: datetime,
                          cursor: str | None = None) -> RecentPage:
        """GET /{page}/feed, cursor-paged: paging.cursors.after, present with paging.next while there is more."""
        params = {"since": int(since.timestamp()), "fields": "id,message,created_time,permalink_url",
                  "limit": self.recent_page_size}
        if cursor:
            params["after"] = cursor
        body = self.get(f"{credentials.account_id}/feed", token=credentials.access_token,
                        account_id=credentials.account_id, **params)
        posts = []
        for item in body.get("data", []):
            created = parse_time(item["created_time"]) if item.get("created_time") else since
            posts.append(RemotePost(platform_post_id=str(item["id"]), text=item.get("message", ""),
                                    created_at=created, platform_url=item.get("permalink_url")))
        return RecentPage(posts=posts, next_cursor=graph_next_cursor(body))

    def fetch_metrics(self, *, credentials: Credentials, post_ids: list[str]) -> dict[str, Metrics]:
        call = {"token": credentials.access_token, "account_id": credentials.account_id}
        found = self.batch_get(post_ids, fields=COUNT_FIELDS, insights=INSIGHT_METRICS, period="lifetime", **call)
        metrics = {}
        for post_id, item in found.items():
            views = item["insights"]
            metrics[post_id] = Metrics(
                likes=_summary_total(item.get("reactions")),
                comments=_summary_total(item.get("comments")),
                shares=int((item.get("shares") or {}).get("count") or 0),
                reach=views.get("post_total_media_view_unique", views.get("post_impressions_unique", 0)),
                impressions=views.get("post_media_view", views.get("post_impressions", 0)))
        return metrics


def _summary_total(edge: dict | None) -> int:
    return int(((edge or {}).get("summary") or {}).get("total_count") or 0)
