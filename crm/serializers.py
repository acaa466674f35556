from rest_framework import serializers

from crm.models import Campaign


class CampaignSerializer(serializers.ModelSerializer):
    post_count = serializers.IntegerField(read_only=True)
    published_count = serializers.IntegerField(read_only=True)
    total_likes = serializers.IntegerField(read_only=True)
    total_comments = serializers.IntegerField(read_only=True)
    total_shares = serializers.IntegerField(read_only=True)
    total_reach = serializers.IntegerField(read_only=True)
    total_impressions = serializers.IntegerField(read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id", "tenant", "club", "name", "starts_on", "ends_on", "created_at", "post_count", "published_count",
            "total_likes", "total_comments", "total_shares", "total_reach", "total_impressions",
        ]
        read_only_fields = fields
