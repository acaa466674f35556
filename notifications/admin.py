from django.contrib import admin

from crm.admin_scoping import TenantScopedAdmin
from notifications.models import Notification, NotificationDelivery


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
