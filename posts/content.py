"""Content rules for posts: the platform's rules (its adapter's ``validate``) applied to a post, in one place.

Used by every write (posts.services) and again by the publisher just before it calls the platform.
"""

from django.core.exceptions import ValidationError

from platforms import PlatformError, PostContent, get_adapter
from platforms.fetch import media_fetch, stored_media_name

# Which model field each adapter violation belongs to.
VIOLATION_FIELDS = {"text": "content", "hashtags": "hashtags", "link": "link_url", "media": "media_urls"}


def post_content(post):
    return PostContent(text=post.content or "", hashtags=list(post.hashtags or []), link=post.link_url or None,
                       media_urls=list(post.media_urls or []))


def content_violations(*, platform, content):
    """The platform's content rules (the adapters' ``validate``): the one place they are checked.

    Files the app stored itself are also held to the platform's size rules here, at compose time
    (their size is known without any network call); other addresses are checked when published.
    """
    adapter = get_adapter(platform)
    return adapter.validate(content) + adapter.media_violations(_stored_files(content.media_urls))


def _stored_files(urls):
    files = []
    for url in urls:
        if stored_media_name(url) is None:
            continue
        try:
            media = media_fetch(url, read_body=False)
        except PlatformError:  # missing or unreadable: reported when it is published
            continue
        files.append((media.name, media.content_type, media.size or 0))
    return files


def raise_for_violations(violations):
    if not violations:
        return
    errors = {}
    for violation in violations:
        errors.setdefault(VIOLATION_FIELDS.get(violation.field, "content"), []).append(violation.message)
    raise ValidationError(errors)
