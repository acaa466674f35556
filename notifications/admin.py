from django.contrib import admin

from crm.admin_scoping import TenantScopedAdmin
from notifications.models import Notification, NotificationDelivery, NotificationPreference


class DeliveryInline(admin.TabularInline):
    model = NotificationDelivery
    fields = ["user", "email_wanted", "emailed_at", "digest_wanted", "digested_at", "dismissed_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(TenantScopedAdmin):
    """What was raised, for whom, and whether it was emailed; raised by the product only, never by hand."""

    list_display = ["title", "kind", "club", "created_at", "resolved_at"]
    list_filter = ["kind", "club"]
    search_fields = ["title", "message"]
    fields = ["kind", "title", "message", "link", "club", "post", "connection", "occurrence", "created_at",
              "resolved_at"]
    readonly_fields = fields
    inlines = [DeliveryInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(TenantScopedAdmin):
    """Who received what: emailed, summarised, dismissed. Read only."""

    list_display = ["notification", "user", "emailed_at", "digested_at", "dismissed_at"]
    list_select_related = ["notification", "user"]
    fields = ["notification", "user", "email_wanted", "emailed_at", "digest_wanted", "digested_at", "dismissed_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(TenantScopedAdmin):
    """Each person's choices; people change their own on the Notifications page."""

    list_display = ["user", "kind", "email", "digest"]
    list_filter = ["kind"]
    fields = ["user", "kind", "email", "digest"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
