"""Writes on the media library: upload (normalised, found again when uploaded twice), describe, remove,
and which library images a post uses."""

import hashlib
import uuid
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils.text import get_valid_filename

from crm.tenancy import allowed_club_ids
from library.models import ALT_TEXT_MAX_LENGTH, MediaAsset, PostMedia, PromotionImage
from library.normalise import normalise_image
from library.selectors import media_for_urls
from platforms import image_limits_for_every_platform
from platforms.fetch import stored_media_name
from socialcrm.inputs import readable_text

LIBRARY_PREFIX = "library/"


def upload_max_bytes():
    return int(getattr(settings, "MEDIA_LIBRARY_UPLOAD_MAX_BYTES", 20 * 1024 * 1024))


def max_pixels():
    return int(getattr(settings, "MEDIA_LIBRARY_MAX_PIXELS", 50_000_000))


def _clean_alt(alt_text):
    alt = " ".join(str(alt_text or "").split())
    if len(alt) > ALT_TEXT_MAX_LENGTH:
        raise ValidationError({"alt_text": f"A description can be at most {ALT_TEXT_MAX_LENGTH:,} characters "
                                           f"(this one has {len(alt):,}): the shortest limit of the platforms."})
    try:
        return readable_text(alt)
    except ValidationError as exc:
        raise ValidationError({"alt_text": exc.messages}) from None


def _check_club(*, tenant, club, by):
    if club is None:
        if by is not None and allowed_club_ids(by) is not None:
            raise ValidationError({"club": "Choose one of your clubs for this image."})
        return
    if club.tenant_id != tenant.pk:
        raise ValidationError({"club": "Club not found."})
    allowed = allowed_club_ids(by) if by is not None else None
    if allowed is not None and club.pk not in allowed:
        raise ValidationError({"club": "Club not found."})


def media_upload(*, tenant, upload, by, club=None, alt_text=""):
    """Store an uploaded image in the library, normalised for every platform; returns (asset, created).

    The same file uploaded again to the same library (the tenant's, or the club's) is the image already
    there: nothing is stored twice, and a description given now fills one that was empty.
    """
    _check_club(tenant=tenant, club=club, by=by)
    alt = _clean_alt(alt_text)
    name = str(getattr(upload, "name", "") or "image")
    limit = upload_max_bytes()
    if (getattr(upload, "size", None) or 0) > limit:
        raise ValidationError({"file": f"“{name}” is larger than {limit / (1024 * 1024):g} MB, the most the "
                                       "library takes."})
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError({"file": f"“{name}” is larger than {limit / (1024 * 1024):g} MB, the most the "
                                       "library takes."})
    if not data:
        raise ValidationError({"file": f"“{name}” is empty."})
    digest = hashlib.sha256(data).hexdigest()
    existing = MediaAsset.objects.filter(tenant=tenant, club=club, sha256=digest).first()
    if existing is not None:
        if alt and not existing.alt_text:
            existing.alt_text = alt
            existing.save(update_fields=["alt_text"])
        return existing, False
    image = normalise_image(data, name=name, limits=image_limits_for_every_platform(), max_pixels=max_pixels())
    stem = get_valid_filename(PurePath(name).stem)[:80] or "image"
    folder = f"{LIBRARY_PREFIX}{tenant.pk}/{uuid.uuid4().hex}"
    extension = ".gif" if image.content_type == "image/gif" else ".jpg"
    stored = default_storage.save(f"{folder}/{stem}{extension}", ContentFile(image.data))
    thumb = default_storage.save(f"{folder}/thumbnail.jpg", ContentFile(image.thumbnail))
    try:
        with transaction.atomic():
            asset = MediaAsset.objects.create(
                tenant=tenant, club=club, file=stored, thumbnail=thumb, original_name=name[:255],
                width=image.width, height=image.height, size=len(image.data), content_type=image.content_type,
                sha256=digest, alt_text=alt, created_by=by if getattr(by, "pk", None) else None)
    except IntegrityError:  # the same file, uploaded at the same moment by someone else
        default_storage.delete(stored)
        default_storage.delete(thumb)
        return MediaAsset.objects.get(tenant=tenant, club=club, sha256=digest), False
    return asset, True


def media_describe(*, asset, alt_text, by=None):
    """Set the image's description (alt text), sent with it to every platform that takes one."""
    asset.alt_text = _clean_alt(alt_text)
    asset.save(update_fields=["alt_text"])
    return asset


class MediaInUse(Exception):
    """The image is used by posts: removing it is refused (the API answers 409)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def media_delete(*, asset, by=None):
    """Remove an image that no post uses; refused, naming how many use it, otherwise."""
    with transaction.atomic():
        locked = MediaAsset.objects.select_for_update().filter(pk=asset.pk).first()
        if locked is None:
            raise MediaAsset.DoesNotExist("The image no longer exists.")
        posts = PostMedia.objects.filter(asset=locked).count()
        promotions = PromotionImage.objects.filter(asset=locked).count()
        if posts or promotions:
            uses = [f"{n} {what}{'s' if n != 1 else ''}" for n, what in ((posts, "post"), (promotions, "promotion"))
                    if n]
            them = "them" if posts + promotions != 1 else "it"
            raise MediaInUse(f"“{locked}” is used by {' and '.join(uses)}; remove it from {them} "
                             f"(or delete {them}) first.")
        names = [locked.file.name, locked.thumbnail.name]
        locked.delete()
        transaction.on_commit(lambda: [default_storage.delete(n) for n in names if n])


def post_media_link(*, post):
    """Record which library images the post uses, in its order (from its media addresses).

    A library address of another tenant, or of a club the post's account does not belong to, is
    refused: a post publishes only images its club may use. An account of the whole organisation
    serves every club, so it may use any of the organisation's images.
    """
    urls = list(post.media_urls or [])
    found = media_for_urls(tenant_id=post.tenant_id, urls=urls)
    club_id = post.connection.club_id
    for url in urls:
        name = stored_media_name(url) or ""
        if name.startswith(LIBRARY_PREFIX) and (url not in found or (
                club_id is not None and found[url].club_id is not None and found[url].club_id != club_id)):
            raise ValidationError({"media_urls": "An image is not in this club's media library."})
    wanted = [found[url] for url in urls if url in found]
    current = list(PostMedia.objects.filter(post=post).order_by("position").values_list("asset_id", flat=True))
    if current == [a.pk for a in wanted]:
        return
    PostMedia.objects.filter(post=post).delete()
    PostMedia.objects.bulk_create([PostMedia(post=post, asset=a, position=i) for i, a in enumerate(wanted)])


def promotion_image_link(*, promotion, strict=True):
    """Record the library image a promotion uses (its event image address), or none.

    ``strict`` (staff's own edits) refuses a library address of another tenant or of another club; an
    address that came from the source system is simply not linked.
    """
    url = promotion.event_image_url or ""
    found = media_for_urls(tenant_id=promotion.tenant_id, urls=[url]) if url else {}
    asset = found.get(url)
    if asset is not None and asset.club_id is not None and asset.club_id != promotion.club_id:
        asset = None
    if asset is None and strict and (stored_media_name(url) or "").startswith(LIBRARY_PREFIX):
        raise ValidationError({"event_image_url": "That image is not in this club's media library."})
    if asset is None:
        PromotionImage.objects.filter(promotion=promotion).delete()
        return None
    PromotionImage.objects.update_or_create(promotion=promotion, defaults={"asset": asset})
    return asset
