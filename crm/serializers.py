from rest_framework import serializers

from crm.models import Campaign, Club, TimeLocale


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


class ClubSerializer(serializers.ModelSerializer):
    """A club as staff see it: its clock (timezone) and how its dates and times are written."""

    timezone = serializers.CharField(read_only=True, help_text="IANA timezone of the club's clock, e.g. Europe/London.")
    time_locale = serializers.ChoiceField(
        choices=TimeLocale.choices, read_only=True,
        help_text="How staff pages write this club's dates and times: en-GB and en-IE a 24-hour clock, "
                  "en-US and en-AU a 12-hour clock.",
    )

    class Meta:
        model = Club
        fields = ["id", "name", "timezone", "time_locale"]
        read_only_fields = fields
