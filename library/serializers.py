from rest_framework import serializers

from crm.api_scoping import ScopedRelatedField
from crm.models import Club
from library.models import ALT_TEXT_MAX_LENGTH, MediaAsset
from library.selectors import media_use_count
from socialcrm.api_inputs import InputRulesMixin


class MediaAssetSerializer(serializers.ModelSerializer):
    """Output: one library image, where it is published from, and how many posts use it."""

    url = serializers.URLField(read_only=True, help_text="The public address platforms fetch the image from.")
    thumbnail_url = serializers.URLField(read_only=True)
    usage_count = serializers.SerializerMethodField(
        help_text="Posts and promotions using the image; it can be removed at 0.")

    class Meta:
        model = MediaAsset
        fields = ["id", "club", "url", "thumbnail_url", "original_name", "width", "height", "size", "content_type",
                  "sha256", "alt_text", "usage_count", "created_at"]
        read_only_fields = fields

    def get_usage_count(self, asset) -> int:
        return media_use_count(asset)


class MediaUploadInputSerializer(InputRulesMixin, serializers.Serializer):
    """Input for an upload (multipart/form-data): the image, its club (empty: the whole organisation) and
    its description."""

    file = serializers.FileField(help_text="A JPEG, PNG, GIF or WebP image; stored normalised for every platform.")
    club = ScopedRelatedField(model=Club, required=False, allow_null=True)
    alt_text = serializers.CharField(required=False, allow_blank=True, max_length=ALT_TEXT_MAX_LENGTH)


class MediaDescribeInputSerializer(InputRulesMixin, serializers.Serializer):
    """Input for an update: the description (alt text) is the one thing of an image that changes."""

    alt_text = serializers.CharField(allow_blank=True, max_length=ALT_TEXT_MAX_LENGTH)
