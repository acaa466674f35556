"""Notifications API: the caller's own notifications, dismissing a banner, and their email choices."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.tenancy import scope_queryset
from notifications import services
from notifications.models import Notification
from notifications.selectors import notifications_of, preferences_of
from notifications.serializers import NotificationSerializer, PreferencesSerializer, preferences_data


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Notifications sent to you (a failed post, a connection to reconnect, approvals), newest first."""

    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return scope_queryset(notifications_of(user=self.request.user), self.request.user)

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        """Hide the banner for you; it also goes by itself once the problem is resolved."""
        notification = self.get_object()
        services.notification_dismiss(user=request.user, notification=notification)
        return Response(self.get_serializer(self.get_queryset().get(pk=notification.pk)).data)

    @extend_schema(methods=["get"], request=None, responses=PreferencesSerializer)
    @extend_schema(methods=["put"], request=PreferencesSerializer, responses=PreferencesSerializer)
    @action(detail=False, methods=["get", "put"], serializer_class=PreferencesSerializer, pagination_class=None,
            filter_backends=[])
    def preferences(self, request):
        """Your choice per kind: an email as it happens, and/or one summary email a day."""
        if request.method == "PUT":
            serializer = PreferencesSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            choices = {item["kind"]: item for item in serializer.validated_data["preferences"]}
            return Response(preferences_data(services.preferences_update(user=request.user, choices=choices)),
                            status=status.HTTP_200_OK)
        return Response(preferences_data(preferences_of(user=request.user)))
