
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import UnsupportedMediaType, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from crm.api_scoping import TenantScopedViewSetMixin
from crm.clock import club_utc_to_local
from crm.history_api import HistoryActionMixin
from promotions import intake, services
from promotions.models import EventPromotion, PromotionDispatch
from promotions.planning import reminder_moments
from promotions.reports import promotion_report
from promotions.serializers import (
    EventPromotionSerializer,
    InboundEventAcceptedSerializer,
    InboundEventSerializer,
    PlanMomentSerializer,
    PromotionDispatchSerializer,
    PromotionInputSerializer,
    ReportSerializer,
    SmsEstimateSerializer,
)
from promotions.sms_estimate import sms_estimate
from socialcrm.api_inputs import KeysetCursorPagination
from socialcrm.keyset import Key, Keyset


class EventPromotionViewSet(HistoryActionMixin, TenantScopedViewSetMixin, viewsets.ModelViewSet):
    """Promotions of competitions and club events. Staff create SPECIAL ones here; the others come from events."""

    base_queryset = EventPromotion.objects.select_related("club").order_by("event_starts_at")
    serializer_class = EventPromotionSerializer
    filterset_fields = ["club", "source_type", "is_active", "event_status"]

    def _input(self, *, instance=None, partial=False):
        serializer = PromotionInputSerializer(instance=instance, data=self.request.data, partial=partial,
                                              context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(request=PromotionInputSerializer, responses={201: EventPromotionSerializer})
    def create(self, request, *args, **kwargs):
        data = dict(self._input())
        club = data.pop("club", None)
        if club is None or not data.get("event_name") or not data.get("event_starts_at"):
            raise serializers.ValidationError({
                name: "This field is required." for name in ("club", "event_name", "event_starts_at")
                if not (club if name == "club" else data.get(name))
            })
        promotion = services.promotion_create_special(tenant=club.tenant, club=club, by=request.user, **data)
        return Response(EventPromotionSerializer(promotion).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PromotionInputSerializer, responses={200: EventPromotionSerializer})
    def update(self, request, *args, **kwargs):
        promotion = self.get_object()
        data = dict(self._input(instance=promotion, partial=kwargs.get("partial", False)))
        club = data.pop("club", None)
        if club is not None and club.pk != promotion.club_id:
            raise serializers.ValidationError({"club": "A promotion stays with its club."})
        promotion = services.promotion_update(promotion=promotion, by=request.user, **data)
        return Response(EventPromotionSerializer(promotion).data)

    @extend_schema(request=PromotionInputSerializer, responses={200: EventPromotionSerializer})
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.promotion_delete(promotion=instance, by=self.request.user)

    @extend_schema(responses={200: PlanMomentSerializer(many=True)})
    @action(detail=True, methods=["get"], url_path="plan-preview")
    def plan_preview(self, request, pk=None):
        """Every announcement and reminder the promotion's settings give right now, in the club's time."""
        promotion = self.get_object()
        moments = [
            {"kind": m.kind, "days_before": m.days_before, "channel": m.channel, "scheduled_for": m.scheduled_for,
             "scheduled_for_local": club_utc_to_local(promotion.club, m.scheduled_for).isoformat(), "skip_reason": m.skip_reason}
            for m in reminder_moments(promotion=promotion)
        ]
        return Response(PlanMomentSerializer(moments, many=True).data)


    @extend_schema(responses={200: ReportSerializer})
    @action(detail=True, methods=["get"])
    def report(self, request, pk=None):
        """Posts and engagement per network, emails and texts by outcome, segments sent and cost (as on the page)."""
        report = promotion_report(promotion=self.get_object())
        return Response(ReportSerializer({"title": report.title, "rows": report.rows}).data)

    @extend_schema(responses={200: SmsEstimateSerializer})
    @action(detail=True, methods=["get"], url_path="sms-estimate")
    def sms_estimate(self, request, pk=None):
        """What the promotion's texts take: recipients, segments per step (GSM-7 or UCS-2) and the estimated cost."""
        promotion = self.get_object()
        return Response(SmsEstimateSerializer(sms_estimate(promotion=promotion).as_dict()).data)

    @extend_schema(request=PromotionInputSerializer, responses={200: SmsEstimateSerializer})
    @action(detail=False, methods=["post"], url_path="sms-estimate")
    def sms_estimate_draft(self, request):
        """The same estimate for a promotion not saved yet: send what you would send to create it."""
        data = dict(self._input(partial=True))
        club = data.get("club")
        if club is None:
            raise serializers.ValidationError({"club": "This field is required."})
        draft = EventPromotion(
            tenant_id=club.tenant_id, club=club, channels=data.get("channels") or [], segment=data.get("segment"),
            target_radius=data.get("target_radius"), sms_template=data.get("sms_template"),
            reminder_days=data.get("reminder_days") or [], event_name=data.get("event_name") or "",
            event_starts_at=data.get("event_starts_at") or timezone.now(),
            event_location=data.get("event_location") or "", event_url=data.get("event_url") or "",
        )
        return Response(SmsEstimateSerializer(sms_estimate(promotion=draft, tenant=club.tenant).as_dict()).data)


class PromotionDispatchViewSet(TenantScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Each planned send (announcement or reminder, per channel) with its progress counts."""

    base_queryset = PromotionDispatch.objects.select_related("promotion")
    serializer_class = PromotionDispatchSerializer
    # Every promotion adds a few per channel, for good: cursor pages in send order, no COUNT.
    pagination_class = KeysetCursorPagination
    keyset = Keyset(keys=(Key("scheduled_for", "moment"), Key("channel", "text"), Key("id", "uuid")),
                    descending=False, tag="dispatches")
    filterset_fields = ["promotion", "status", "channel", "kind"]


SIGNATURE_HEADERS = [
    OpenApiParameter("X-Signature-Timestamp", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     description="Unix seconds when the request was signed; older than 5 minutes is refused."),
    OpenApiParameter("X-Signature", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     description='"sha256=" + hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed with the tenant\'s secret.'),
]


class InboundEventView(APIView):
    """Signed events from the tee-time system: competitions and club events published, updated, cancelled."""

    # Authenticated by the HMAC signature over the raw body, not by a user.
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "events"

    @extend_schema(
        operation_id="events_receive",
        request=InboundEventSerializer,
        parameters=SIGNATURE_HEADERS,
        auth=[],
        responses={
            202: InboundEventAcceptedSerializer,
            400: OpenApiResponse(description="Malformed body (not a JSON object, or field errors)."),
            401: OpenApiResponse(description="Missing, wrong or stale signature, or a tenant that is not known."),
            415: OpenApiResponse(description="The body is not sent as application/json."),
            422: OpenApiResponse(description="Unknown club in the tenant."),
            429: OpenApiResponse(description="Too many events; retry later (API_EVENTS_THROTTLE_RATE)."),
        },
        examples=[OpenApiExample("competition.published", request_only=True, value={
            "id": "evt_01HZX", "type": "competition.published", "tenant_id": "demo",
            "occurred_at": "2025-05-01T09:00:00Z",
            "data": {"id": "comp-42", "club_id": "club-1", "name": "Summer Medal", "starts_at": "2025-06-14T08:00:00+01:00",
                     "location": "Old Course", "url": "https://example.com/comp-42", "image_url": "https://example.com/medal.jpg"},
        })],
    )
    def post(self, request):
        raw = request.body
        if not raw:
            raise ValidationError({"non_field_errors": ["The body is empty: send the event as a JSON object."]})
        charset = request.content_params.get("charset", "utf-8").lower()
        if request.content_type != "application/json" or charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(request.content_type, detail="Send the event as application/json (UTF-8).")
        try:
            body = intake.parse_body(raw)
        except intake.MalformedBody as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None
        if not isinstance(body.get("tenant_id"), str) or not body["tenant_id"]:
            raise ValidationError({"tenant_id": ["This field is required (text)."]})
        tenant = intake.inbound_event_verify(body=body, raw=raw,
                                             timestamp_header=request.headers.get("X-Signature-Timestamp"),
                                             signature_header=request.headers.get("X-Signature"))
        serializer = InboundEventSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        try:
            outcome = intake.inbound_event_apply(tenant=tenant, event=serializer.validated_data,
                                                 payload=serializer.data)
        except intake.InvalidEvent as exc:
            raise ValidationError(exc.errors) from None
        return Response(
            {"status": "applied" if outcome.applied else "already applied", "outcome": outcome.message,
             "promotion": outcome.promotion.pk if outcome.promotion else None},
            status=status.HTTP_202_ACCEPTED,
        )
