"""Facebook Pages: publish to a Page's feed (text, link, photos), read its posts and their metrics."""

from __future__ import annotations

import json
from datetime import datetime

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
)
from .errors import TransientError
from .graph import GraphAdapter, graph_next_cursor

COUNT_FIELDS = "reactions.summary(true),comments.summary(true),shares"
# A Video node has reactions and comments but no `shares` and no post_* insights.
VIDEO_COUNT_FIELDS = "reactions.summary(true),comments.summary(true)"
INSIGHT_METRICS = "post_media_view,post_total_media_view_unique"


class FacebookAdapter(GraphAdapter):
    platform = "FACEBOOK"
    slug = "facebook"
    display_name = "Facebook"
    position = 10
    max_length_default = 63206
    # The desktop feed folds a long post at about 480 characters behind "See more".
    preview_fold_chars = 480
    preview_more_label = "See more"
    account_type = "page"
    required_permissions = ["pages_manage_posts", "pages_read_engagement"]
    permission_words = {"pages_manage_posts": "publish posts on the Page",
                        "pages_read_engagement": "read the Page's likes, comments and reach"}
    # publish_video: videos go to /{page}/videos; read_insights: post reach and views;
    # business_management: Pages the person manages through a Business Manager.
    scopes = ["pages_show_list", "pages_manage_posts", "pages_read_engagement", "publish_video", "read_insights",
              "business_management"]
    permission_labels = {
        "pages_manage_posts": "Create content", "pages_read_engagement": "Read content and engagement",
        "pages_show_list": "Show the Pages you manage", "publish_video": "Publish videos",
        "read_insights": "Read Page insights", "business_management": "Manage your business",
    }

    # developers.facebook.com/docs/graph-api/reference/page/photos: photos under 4 MB (JPEG, PNG, GIF, ...).
    image_limits = ImageLimits(max_bytes=4 * 1024 * 1024)
    # Page photos take `alt_text_custom`; Facebook documents no length limit for it.
    takes_alt_text = True

    def permission_refusal(self, said: str) -> str:
        # A Page role without the CREATE_CONTENT task: a Page admin grants it, not the sign-in.
        if "CREATE_CONTENT" in (said or ""):
            return ("Your role on this Facebook Page does not include “Create content”. Ask a Page admin to "
                    "give it to you, then reconnect the account.")
        return super().permission_refusal(said)

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
        return self.publish_resuming(credentials=credentials, content=content, progress={})

    def publish_resuming(self, *, credentials: Credentials, content: PostContent, progress: dict,
                         checkpoint=None) -> PublishResult:
        checkpoint = checkpoint or (lambda: None)
        self.ensure_valid(content)
        page, token = credentials.account_id, credentials.access_token
        call = {"token": token, "account_id": page}
        message, media = self.render_text(content), list(content.media_urls)
        if len(media) == 1 and is_video(media[0]):
            return self.publish_video(page, media[0], message, progress, checkpoint, call)
        if not media:
            data = {"message": message}
            if content.link:
                data["link"] = content.link
            post_id = self.post(f"{page}/feed", data=data, **call)["id"]
        elif len(media) == 1:
            body = self.post(f"{page}/photos", data=self.photo_fields(content, 0, caption=message), **call)
            post_id = body.get("post_id") or body["id"]
        else:
            photo_ids = [self.post(f"{page}/photos", data=self.photo_fields(content, i, published="false"),
                                   **call)["id"] for i in range(len(media))]
            data = {"message": message}
            data.update({f"attached_media[{i}]": json.dumps({"media_fbid": pid}) for i, pid in enumerate(photo_ids)})
            post_id = self.post(f"{page}/feed", data=data, **call)["id"]
        return PublishResult(platform_post_id=str(post_id),
                             platform_url=self.permalink(str(post_id), "permalink_url", **call))

    @staticmethod
    def photo_fields(content: PostContent, index: int, **fields) -> dict:
        """One photo's fields for /{page}/photos, with its description for screen readers when it has one."""
        data = {"url": content.media_urls[index], **fields}
        alt = content.alt_for(index)
        if alt:
            data["alt_text_custom"] = alt
        return data

    def publish_video(self, page: str, url: str, message: str, progress: dict, checkpoint, call: dict) -> PublishResult:
        """POST /{page}/videos with file_url, then wait for processing (status.video_status).

        The video id is kept in `progress`: a later attempt resumes waiting on that video and
        never uploads it a second time."""
        mark = self.fingerprint(page, url, message)
        if progress.get("fingerprint") != mark:
            progress.clear()
            progress["fingerprint"] = mark
        if not progress.get("video_id"):
            progress["video_id"] = str(self.post(f"{page}/videos", data={"file_url": url, "description": message},
                                                 **call)["id"])
            checkpoint()
        video_id = progress["video_id"]

        def ready() -> bool:
            status = (self.get(video_id, fields="status", **call).get("status") or {})
            state = str(status.get("video_status") or "").lower()
            if state == "ready":
                return True
            if state in ("error", "expired"):
                progress.clear()  # the next attempt uploads it again
                checkpoint()
                raise TransientError(f"Facebook could not process the video ({state}); it will be uploaded again.",
                                     platform=self.platform, code=state.upper())
            return False

        self.await_processing("the video", ready, progress, checkpoint)
        return PublishResult(platform_post_id=video_id, platform_url=self.permalink(video_id, "permalink_url", **call))

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
        """Counts from the post itself; reach and views from insights, None when Facebook gives none
        (read_insights not granted, a Page under 100 likes, a video)."""
        call = {"token": credentials.access_token, "account_id": credentials.account_id}
        posts = [i for i in post_ids if "_" in str(i)]  # Page posts are "{page}_{post}"; videos are bare ids
        videos = [i for i in post_ids if "_" not in str(i)]
        found = self.batch_get(posts, fields=COUNT_FIELDS, insights=INSIGHT_METRICS, period="lifetime", **call)
        found.update(self.batch_get(videos, fields=VIDEO_COUNT_FIELDS, **call))
        metrics = {}
        for post_id, item in found.items():
            views = item.get("insights")
            is_post = "_" in str(post_id)
            metrics[post_id] = Metrics(
                likes=_summary_total(item.get("reactions")),
                comments=_summary_total(item.get("comments")),
                shares=int((item.get("shares") or {}).get("count") or 0) if is_post else None,
                reach=_insight(views, "post_total_media_view_unique", "post_impressions_unique"),
                impressions=_insight(views, "post_media_view", "post_impressions"))
        return metrics


def _insight(values: dict | None, *names: str) -> int | None:
    if not values:
        return None
    return next((values[n] for n in names if n in values), None)


def _summary_total(edge: dict | None) -> int:
    return int(((edge or {}).get("summary") or {}).get("total_count") or 0)
