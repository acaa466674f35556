"""The media library: images a tenant (or one of its clubs) keeps for reuse, each with its description."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

# The longest description the library keeps for an image: the shortest documented limit of the platforms
# that take one (X: 1,000 characters), so every description can be sent everywhere as written.
ALT_TEXT_MAX_LENGTH = 1000


class MediaAsset(models.Model):
    """One normalised image: stored once per tenant (or club) however often it is uploaded or used."""

    club_path = "club"
    club_may_be_empty = True  # no club: the whole tenant's library, seen by club-limited staff too

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="media_assets")
    club = models.ForeignKey("crm.Club", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="media_assets", db_index=False)
    file = models.FileField(max_length=300)
    thumbnail = models.FileField(max_length=300, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveBigIntegerField(help_text="Bytes of the stored (normalised) file.")
    content_type = models.CharField(max_length=50)
    sha256 = models.CharField(max_length=64, help_text="Of the uploaded bytes: the same file uploaded again is found.")
    alt_text = models.TextField(max_length=ALT_TEXT_MAX_LENGTH, blank=True,
                                help_text="What the image shows, for people who cannot see it.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="media_tenant_created_idx"),
            models.Index(fields=["club"], name="media_club_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "club", "sha256"], condition=Q(club__isnull=False),
                                    name="media_club_sha256_uniq"),
            models.UniqueConstraint(fields=["tenant", "sha256"], condition=Q(club__isnull=True),
                                    name="media_tenant_sha256_uniq"),
            models.UniqueConstraint(fields=["file"], name="media_file_uniq"),
        ]

    def __str__(self):
        return self.original_name or self.file.name.rsplit("/", 1)[-1]

    @property
    def url(self):
        """The public address platforms fetch the image from."""
        return public_url(self.file.name)

    @property
    def thumbnail_url(self):
        return public_url(self.thumbnail.name) if self.thumbnail else self.url

    @property
    def thumbnail_path(self):
        """The thumbnail on this site (pages show it from their own origin)."""
        return settings.MEDIA_URL + (self.thumbnail.name or self.file.name)


def public_url(name):
    return settings.SITE_URL.rstrip("/") + settings.MEDIA_URL + name


class PostMedia(models.Model):
    """An image of the library used by a post, in the post's order: what keeps the image from being removed."""

    tenant_path = "post__tenant"
    club_path = "post__connection__club"
    club_may_be_empty = True

    post = models.ForeignKey("posts.SocialPost", on_delete=models.CASCADE, related_name="media_items")
    asset = models.ForeignKey(MediaAsset, on_delete=models.PROTECT, related_name="post_uses")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["post", "position"]
        verbose_name = "post image"
        constraints = [
            models.UniqueConstraint(fields=["post", "position"], name="postmedia_post_position_uniq"),
            models.UniqueConstraint(fields=["post", "asset"], name="postmedia_post_asset_uniq"),
        ]

    def __str__(self):
        return f"{self.asset} in post {self.post_id} (#{self.position + 1})"


class PromotionImage(models.Model):
    """The library image a promotion announces its event with: it keeps the image from being removed."""

    tenant_path = "promotion__tenant"
    club_path = "promotion__club"

    promotion = models.OneToOneField("promotions.EventPromotion", on_delete=models.CASCADE, related_name="library_image")
    asset = models.ForeignKey(MediaAsset, on_delete=models.PROTECT, related_name="promotion_uses")

    class Meta:
        verbose_name = "promotion image"

    def __str__(self):
        return f"{self.asset} for promotion {self.promotion_id}"
