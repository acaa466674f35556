"""Reads of the media library: what a user may see, how each image is used, descriptions by address."""

from dataclasses import dataclass

from django.db.models import Count, Q

from crm.tenancy import scope_queryset, visible_row
from library.models import MediaAsset, PostMedia, PromotionImage
from platforms.fetch import stored_media_name


def media_list(*, user, club=None):
    """The images the user may see (their clubs' and the tenant-wide ones), newest first, with use counts."""
    assets = scope_queryset(MediaAsset.objects.select_related("club"), user).annotate(
        post_count=Count("post_uses", distinct=True), promotion_count=Count("promotion_uses", distinct=True))
    if club is not None:
        assets = assets.filter(Q(club__isnull=True) | Q(club=club))
    return assets.order_by("-created_at", "-id")


def media_get(*, user, asset_id):
    """One image the user may see, or None (another tenant's id looks exactly like a missing one)."""
    return visible_row(MediaAsset.objects.select_related("club"), user, asset_id)


@dataclass
class MediaUsage:
    posts: list  # [(post id, its text, platform label)]
    promotions: list  # [(promotion id, event name)]

    @property
    def count(self):
        return len(self.posts) + len(self.promotions)


def media_usage(*, asset):
    """What uses the image (every use, also where the viewer cannot open it: it still keeps the image)."""
    uses = (PostMedia.objects.filter(asset=asset).select_related("post__connection")
            .order_by("-post__created_at"))
    promotions = PromotionImage.objects.filter(asset=asset).select_related("promotion")
    return MediaUsage(posts=[(u.post_id, str(u.post), u.post.connection.get_platform_display()) for u in uses],
                      promotions=[(p.promotion_id, p.promotion.event_name) for p in promotions])


def media_use_count(asset):
    """Posts and promotions using the image (from list annotations when present)."""
    if hasattr(asset, "post_count"):
        return asset.post_count + getattr(asset, "promotion_count", 0)
    return asset.post_uses.count() + asset.promotion_uses.count()


def media_for_urls(*, tenant_id, urls):
    """The tenant's library images among these addresses, by address (others are simply absent)."""
    names = {stored_media_name(url): url for url in urls if stored_media_name(url)}
    if not names:
        return {}
    found = MediaAsset.objects.filter(tenant_id=tenant_id, file__in=list(names))
    return {names[asset.file.name]: asset for asset in found}


def alt_texts_for(*, tenant_id, urls):
    """Each address's description as the library holds it ("" for an address that is not a library image)."""
    found = media_for_urls(tenant_id=tenant_id, urls=urls)
    return [(found[url].alt_text if url in found else "") for url in urls]
