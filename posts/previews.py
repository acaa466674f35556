"""What each network will show of a post: card data for the composer's previews, the API and the detail page.

Built from the publisher's own rules: the text is the adapter's ``render_text`` (what is sent), the
count is its ``text_length`` (X's weighted count), the rules are ``posts.content.content_violations``,
and the fold, "See more" words and link card are facts each adapter declares.
"""

import unicodedata
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from library.selectors import media_for_urls
from platforms import PostContent, get_adapter
from platforms.base import is_video, is_web_url
from platforms.fetch import file_name, stored_media_name
from posts.content import content_violations, post_content

# Where a cut text may step back to end on a whole word, at most.
WORD_BACKTRACK = 20


@dataclass
class LinkCard:
    url: str
    domain: str


@dataclass
class PreviewImage:
    url: str
    name: str
    src: str | None  # the app's own address of a file it stores (the page may show it); None for others


@dataclass
class VersionPreview:
    connection: str | None  # the connection's id, when the preview is of one account's version
    platform: str
    network: str
    account_name: str
    avatar_initial: str
    text: str  # what the feed shows before the fold (the whole text when it is not cut)
    full_text: str  # the text as published
    cut: bool
    more_label: str
    length: int  # as the network counts it (X: weighted)
    limit: int
    length_note: str
    link_card: LinkCard | None
    images: list[PreviewImage] = field(default_factory=list)
    videos: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def carousel(self):
        return len(self.images) > 1

    @property
    def over_limit(self):
        return self.length > self.limit

    @property
    def near_limit(self):
        return not self.over_limit and self.length > 0.9 * self.limit

    def as_dict(self):
        data = asdict(self)
        data["carousel"] = self.carousel
        return data


def fold_text(text, fold):
    """(shown text, cut?) as a feed folds ``text`` after ``fold`` characters (None: never), on a whole word."""
    text = unicodedata.normalize("NFC", text)
    if fold is None or len(text) <= fold:
        return text, False
    shown = text[:fold]
    space = max(shown.rfind(" "), shown.rfind("\n"))
    if space >= fold - WORD_BACKTRACK:
        shown = shown[:space]
    return shown.rstrip() + "…", True


def version_preview(*, platform, account_name, content, connection=None, thumbnails=None):
    """The card of one network's version of a post (``content`` is a ``platforms.PostContent``); an image
    with a thumbnail (``thumbnails``: {address: the app's thumbnail address}) shows the thumbnail."""
    thumbnails = thumbnails or {}
    adapter = get_adapter(platform)
    full = adapter.render_text(content)
    shown, cut = fold_text(full, adapter.preview_fold_chars)
    media = list(content.media_urls)
    link = None
    if adapter.preview_link_card and content.link and is_web_url(content.link) and not media:
        link = LinkCard(url=content.link, domain=(urlsplit(content.link).hostname or "").removeprefix("www."))
    name = (account_name or "").strip()
    return VersionPreview(
        connection=str(connection) if connection is not None else None, platform=adapter.platform, network=adapter.display_name, account_name=name,
        avatar_initial=(name[:1] or adapter.display_name[:1]).upper(),
        text=shown, full_text=full, cut=cut, more_label=adapter.preview_more_label,
        length=adapter.text_length(content), limit=adapter.max_length(), length_note=adapter.length_note.strip(" ()"),
        link_card=link, images=[_image(u, thumbnails.get(u)) for u in media if not is_video(u)], videos=sum(1 for u in media if is_video(u)),
        violations=[v.message for v in content_violations(platform=adapter.platform, content=content)],
    )


def _image(url, thumbnail=None):
    stored = stored_media_name(url)
    src = settings.MEDIA_URL + stored if stored and not urlsplit(settings.MEDIA_URL).scheme else None
    src = thumbnail or src
    return PreviewImage(url=url, name=file_name(url), src=src)


def post_preview(*, post):
    """The card of a saved post, as its network will show it (library images by their thumbnails)."""
    found = media_for_urls(tenant_id=post.tenant_id, urls=list(post.media_urls or []))
    return version_preview(platform=post.connection.platform, account_name=post.connection.account_name,
                           content=post_content(post), connection=post.connection_id,
                           thumbnails={url: asset.thumbnail_path for url, asset in found.items()})


def composition_previews(*, connections, base, overrides=None, thumbnails=None):
    """The card of each account's version of a composition not yet saved: ``base`` holds the shared
    fields (content, hashtags, link_url, media_urls), ``overrides`` each connection id's own; ``thumbnails``
    the app's thumbnail address of library images, by address."""
    overrides = {str(k): v for k, v in (overrides or {}).items()}
    cards = []
    for connection in connections:
        values = {**base, **overrides.get(str(connection.pk), {})}
        cards.append(version_preview(platform=connection.platform, account_name=connection.account_name,
                                     content=content_of(**values), connection=connection.pk,
                                     thumbnails=thumbnails))
    return cards


def content_of(*, content="", hashtags=(), link_url=None, media_urls=()):
    return PostContent(text=content or "", hashtags=list(hashtags or []), link=link_url or None,
                       media_urls=list(media_urls or []))
