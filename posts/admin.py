from django.contrib import admin

from crm.admin_scoping import TenantScopedAdmin
from posts.models import PostMetricSnapshot, SchedulerHeartbeat, SocialPost


@admin.register(SocialPost)
class SocialPostAdmin(TenantScopedAdmin):
    list_display = ["__str__", "connection", "status", "scheduled_at", "published_at", "attempts", "likes", "impressions"]
    list_filter = ["status", "connection__platform", "error_kind", "campaign"]
    search_fields = ["content", "platform_post_id", "created_by"]
    date_hierarchy = "scheduled_at"
    list_select_related = ["connection", "tenant"]
    readonly_fields = [
        "status", "published_at", "platform_post_id", "platform_url", "error", "error_kind", "attempts",
        "next_attempt_at", "publishing_started_at", "likes", "comments", "shares", "reach", "impressions",
        "engagement_synced_at", "created_at", "updated_at", "dispatch",
    ]


@admin.register(PostMetricSnapshot)
class PostMetricSnapshotAdmin(TenantScopedAdmin):
    list_display = ["post", "taken_at", "likes", "comments", "shares", "reach", "impressions"]
    date_hierarchy = "taken_at"
    search_fields = ["post__content"]
    list_filter = ["post__connection__platform"]

    def get_queryset(self, request):
        from crm.tenancy import scope_queryset

        queryset = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(post__in=scope_queryset(SocialPost.objects.all(), request.user))


@admin.register(SchedulerHeartbeat)
class SchedulerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_run_at"]
    date_hierarchy = "last_run_at"
    search_fields = ["name"]
    list_filter = ["name"]

    def has_module_permission(self, request):
        return request.user.is_superuser
