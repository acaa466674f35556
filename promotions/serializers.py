from rest_framework import serializers

from promotions.models import EventPromotion


class EventPromotionSerializer(serializers.ModelSerializer):
    class Meta:
        model = EventPromotion
        fields = [
            "id", "tenant", "club", "source_type", "source_id", "auto_promote", "channels", "announce_at",
            "reminder_days", "segment", "target_radius", "email_template", "sms_template", "social_content",
            "campaign", "is_active", "last_promoted_at", "event_name", "event_starts_at", "event_location",
            "event_url", "event_image_url", "event_status", "created_at", "updated_at", "created_by",
        ]
        read_only_fields = fields
