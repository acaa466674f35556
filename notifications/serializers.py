from rest_framework import serializers

from notifications.models import Notification, NotificationKind


class NotificationSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    dismissed_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                             help_text="When you dismissed its banner; empty while it shows.")
    post = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    connection = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "kind_label", "title", "message", "link", "club", "post", "connection",
                  "created_at", "resolved_at", "dismissed_at"]
        read_only_fields = fields


class PreferenceSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=NotificationKind.choices)
    label = serializers.CharField(read_only=True)
    email = serializers.BooleanField(help_text="Email me as soon as it happens.")
    digest = serializers.BooleanField(help_text="Include it in one summary email a day.")


class PreferencesSerializer(serializers.Serializer):
    preferences = PreferenceSerializer(many=True)

    def validate_preferences(self, value):
        kinds = [item["kind"] for item in value]
        if len(kinds) != len(set(kinds)):
            raise serializers.ValidationError("Each kind may appear once.")
        return value


def preferences_data(choices):
    return {"preferences": [{"kind": kind, "label": NotificationKind(kind).label, "email": choice.email,
                             "digest": choice.digest} for kind, choice in choices.items()]}
