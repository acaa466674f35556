from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from crm.admin_scoping import HistoryAdmin, TenantScopedAdmin
from promotions.models import (
    EmailEvent,
    EventPromotion,
    InboundEvent,
    PromotionDelivery,
    PromotionDispatch,
    PromotionSendChunk,
    SmsOptOut,
    SmsReceipt,
    Suppression,
)
from promotions.services import dispatch_retry_failed
from promotions.suppression import suppression_lift


@admin.register(EventPromotion)
class EventPromotionAdmin(TenantScopedAdmin):
    list_display = ["event_name", "club", "source_type", "event_starts_at", "is_active", "auto_promote", "last_promoted_at"]
    list_filter = ["source_type", "is_active", "auto_promote", "event_status", "club"]
    search_fields = ["event_name", "source_id", "created_by"]
    date_hierarchy = "event_starts_at"
    list_select_related = ["club"]


@admin.register(PromotionDispatch)
class PromotionDispatchAdmin(TenantScopedAdmin):
    list_display = ["promotion", "kind", "days_before", "channel", "scheduled_for", "status", "planned_count", "sent_count", "skipped_count", "failed_count"]
    list_filter = ["status", "channel", "kind"]
    search_fields = ["promotion__event_name"]
    date_hierarchy = "scheduled_for"
    list_select_related = ["promotion"]
    actions = ["retry_failed_deliveries"]

    @admin.action(description="Retry failed deliveries")
    def retry_failed_deliveries(self, request, queryset):
        retried = sum(dispatch_retry_failed(dispatch=dispatch) for dispatch in queryset)
        self.message_user(request, f"{retried} failed deliveries put back in line; they go out on the next dispatcher round.",
                          messages.SUCCESS if retried else messages.WARNING)


@admin.register(PromotionDelivery)
class PromotionDeliveryAdmin(TenantScopedAdmin):
    list_display = ["dispatch", "member", "status", "reason", "tracking_status", "tracking_at", "attempts", "sent_at"]
    list_filter = ["status", "tracking_status", "dispatch__channel"]
    search_fields = ["member__email", "member__last_name", "reason"]
    date_hierarchy = "sent_at"
    list_select_related = ["dispatch", "member"]


@admin.register(InboundEvent)
class InboundEventAdmin(TenantScopedAdmin):
    list_display = ["event_id", "type", "tenant", "occurred_at", "received_at", "outcome"]
    list_filter = ["type"]
    search_fields = ["event_id", "outcome"]
    date_hierarchy = "received_at"
    readonly_fields = ["event_id", "tenant", "type", "occurred_at", "received_at", "payload", "promotion", "outcome"]

    def has_add_permission(self, request):
        return False


@admin.register(SmsOptOut)
class SmsOptOutAdmin(admin.ModelAdmin):
    """STOP replies are per phone number (the gateway is shared), so only superusers see them."""

    list_display = ["phone", "text", "members_opted_out", "received_at"]
    search_fields = ["phone"]
    date_hierarchy = "received_at"
    readonly_fields = ["phone", "text", "members_opted_out", "received_at"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False


@admin.register(PromotionSendChunk)
class PromotionSendChunkAdmin(TenantScopedAdmin):
    """Read-only: who holds which slice of a dispatch, and until when (a lease past its time means a dead worker)."""

    list_display = ["dispatch", "seq", "size", "status", "lease_until", "claims", "updated_at"]
    list_filter = ["status"]
    list_select_related = ["dispatch__promotion"]
    readonly_fields = ["dispatch", "seq", "first_member_id", "last_member_id", "size", "status", "lease_until", "claims",
                       "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Suppression)
class SuppressionAdmin(TenantScopedAdmin):
    """Addresses the tenant no longer sends to. Staff lift one by writing why in the note and saving."""

    list_display = ["address", "channel", "reason", "created_at", "lifted_at", "lifted_by"]
    list_filter = ["channel", "reason", ("lifted_at", admin.EmptyFieldListFilter)]
    search_fields = ["address", "lift_note"]
    date_hierarchy = "created_at"
    fields = ["address", "channel", "reason", "created_at", "source_event", "source_receipt", "lifted_at", "lifted_by", "lift_note"]

    def get_readonly_fields(self, request, obj=None):
        readonly = ["address", "channel", "reason", "created_at", "source_event", "source_receipt", "lifted_at", "lifted_by"]
        return readonly + (["lift_note"] if obj is not None and obj.lifted_at else [])

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "lift_note" in form.base_fields:
            form.base_fields["lift_note"].help_text = (
                "To lift the suppression (mail goes to this address again), say why here and save.")
        return form

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        note = (form.cleaned_data.get("lift_note") or "").strip()
        if change and note and obj.lifted_at is None:
            try:
                suppression_lift(suppression=Suppression.objects.get(pk=obj.pk), by=request.user.get_username(), note=note)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)


@admin.register(SmsReceipt)
class SmsReceiptAdmin(TenantScopedAdmin):
    """Read-only: what the SMS gateway reported about each text, one row per receipt id."""

    list_display = ["status", "phone", "occurred_at", "received_at", "description"]
    list_filter = ["status"]
    search_fields = ["phone", "event_id"]
    date_hierarchy = "occurred_at"
    readonly_fields = ["tenant", "event_id", "status", "delivery", "phone", "occurred_at", "received_at", "description"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EmailEvent)
class EmailEventAdmin(TenantScopedAdmin):
    """Read-only: what the email provider reported, one row per event id."""

    list_display = ["event_type", "address", "provider", "occurred_at", "received_at", "description"]
    list_filter = ["event_type", "provider"]
    search_fields = ["address", "event_id"]
    date_hierarchy = "occurred_at"
    readonly_fields = ["tenant", "provider", "event_id", "event_type", "delivery", "address", "occurred_at",
                       "received_at", "description"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# Who did what to each EventPromotion, read-only and tenant-scoped.
admin.site.register(EventPromotion.history.model, HistoryAdmin)
