from django.contrib import admin, messages

from connections.models import OAuthAttempt, PostingSlot, SocialConnection
from connections.services import connection_deactivate
from crm.admin_scoping import HistoryAdmin, TenantScopedAdmin


@admin.register(SocialConnection)
class SocialConnectionAdmin(TenantScopedAdmin):
    list_display = ["account_name", "platform", "account_type", "club", "is_active", "token_expiry", "last_used_at", "last_error_at"]
    list_filter = ["platform", "is_active", "account_type", "club"]
    search_fields = ["account_name", "account_id", "connected_by"]
    date_hierarchy = "created_at"
    list_select_related = ["club", "tenant"]
    # Tokens are never shown: only the non-secret fields are listed here.
    fields = [
        "tenant", "club", "platform", "account_id", "account_name", "account_type", "account_details",
        "permissions", "token_expiry", "refresh_token_expiry", "token_checked_at", "is_active", "last_used_at", "last_error_at",
        "last_error", "connected_by", "created_at", "updated_at",
    ]
    readonly_fields = [
        "tenant", "platform", "account_id", "account_type", "account_details", "permissions", "token_expiry",
        "refresh_token_expiry", "token_checked_at", "last_used_at", "last_error_at", "last_error", "connected_by",
        "created_at", "updated_at",
    ]

    actions = ["deactivate"]

    def has_add_permission(self, request):
        return False  # connections are made through OAuth only

    @admin.action(description="Deactivate selected connections (keeps their posts)")
    def deactivate(self, request, queryset):
        count = 0
        for connection in queryset.filter(is_active=True):
            connection_deactivate(connection=connection, by=request.user.get_username())
            count += 1
        self.message_user(request, f"Deactivated {count} connection(s).", messages.SUCCESS)


@admin.register(OAuthAttempt)
class OAuthAttemptAdmin(TenantScopedAdmin):
    list_display = ["platform", "user", "tenant", "created_at", "used_at", "completed_at"]
    list_filter = ["platform"]
    search_fields = ["user__username"]
    date_hierarchy = "created_at"
    fields = ["platform", "user", "tenant", "redirect_uri", "created_at", "used_at", "completed_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# Who did what to each SocialConnection, read-only and tenant-scoped.
admin.site.register(SocialConnection.history.model, HistoryAdmin)

@admin.register(PostingSlot)
class PostingSlotAdmin(TenantScopedAdmin):
    list_display = ["connection", "weekday", "time"]
    list_filter = ["weekday"]
    search_fields = ["connection__account_name"]
    list_select_related = ["connection"]
    fields = ["connection", "weekday", "time", "created_at"]
    readonly_fields = ["created_at"]
