from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction

from crm.admin_scoping import HistoryAdmin, NaturalKeyAdminMixin, TenantScopedAdmin
from posts import services
from posts.models import CalendarFeed, Composition, MetricReadUsage, PostMetricSnapshot, SchedulerHeartbeat, SocialPost
from posts.states import EDITABLE, IllegalTransition


class SocialPostAdminForm(forms.ModelForm):
    """The same content rules and status flow as the pages and the API: the form's save is the services'.

    ``clean`` runs the write inside a savepoint that is always rolled back, so whatever the service
    refuses (an illegal status change, a platform rule, another tenant's row) is a form error; the
    admin's save then runs the same service for real.
    """

    class Meta:
        model = SocialPost
        fields = ["tenant", "connection", "campaign", "content", "media_urls", "link_url", "hashtags", "scheduled_at",
                  "created_by"]

    def clean(self):
        cleaned = super().clean()
        if not self.instance._state.adding and self.instance.status not in EDITABLE:
            raise ValidationError(str(IllegalTransition(post_status=self.instance.status, action="edit")))
        if self.errors or cleaned.get("connection") is None:
            return cleaned
        try:
            with transaction.atomic():
                self.write(by=cleaned.get("created_by") or "admin")
                transaction.set_rollback(True)
        except IllegalTransition as exc:
            raise ValidationError(exc.message) from None
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                raise
            for field, errors in exc.error_dict.items():
                for error in errors:
                    self.add_error(field if field in self.fields else None, error)
        return cleaned

    def write(self, *, by):
        """Create or edit the post through posts.services (schedule too, when a time is given)."""
        data = self.cleaned_data
        fields = {"content": data.get("content") or "", "hashtags": data.get("hashtags") or [],
                  "link_url": data.get("link_url") or None, "media_urls": data.get("media_urls") or [],
                  "campaign": data.get("campaign")}
        if self.instance._state.adding:
            return services.posts_compose(tenant=data["tenant"], connections=[data["connection"]],
                                          scheduled_at=data.get("scheduled_at"), by=by, **fields)[0]
        post = services.post_update(post=self.instance, by=by, connection=data["connection"], **fields)
        at = data.get("scheduled_at")
        if at is not None and at != post.scheduled_at:
            post = services.post_schedule(post=post, at=at, by=by)
        return post


def _each(modeladmin, request, queryset, service, done_label, **kwargs):
    done, refused = 0, []
    for post in queryset.select_related("connection"):
        try:
            service(post=post, by=request.user, **kwargs)
            done += 1
        except IllegalTransition as exc:
            refused.append(f"“{post}”: {exc.message}")
        except ValidationError as exc:
            refused.append(f"“{post}”: {' '.join(exc.messages)}")
    if done:
        modeladmin.message_user(request, f"{done} post{'s' if done != 1 else ''} {done_label}.", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.WARNING)


@admin.register(SocialPost)
class SocialPostAdmin(TenantScopedAdmin):
    form = SocialPostAdminForm
    actions = ["retry_failed", "cancel_scheduled"]
    list_display = ["__str__", "connection", "status", "approval_state", "scheduled_at", "published_at", "attempts", "likes",
                    "impressions"]
    list_filter = ["status", "approval_state", "connection__platform", "error_kind", "campaign"]
    search_fields = ["content", "platform_post_id", "created_by"]
    date_hierarchy = "scheduled_at"
    list_select_related = ["connection", "tenant"]
    readonly_fields = [
        "status", "published_at", "platform_post_id", "platform_url", "error", "error_kind", "attempts",
        "next_attempt_at", "publishing_started_at", "likes", "comments", "shares", "reach", "impressions",
        "engagement_synced_at", "metrics_next_sync_at", "metrics_unchanged_syncs", "created_at", "updated_at",
        "dispatch", "approval_state", "approval_requested_by", "approval_requested_at", "approval_decided_by",
        "approval_decided_at", "approval_comment", "composition", "overridden_fields",
    ]

    def save_model(self, request, obj, form, change):
        post = form.write(by=request.user if change else (form.cleaned_data.get("created_by") or request.user))
        form.instance = post
        obj.pk = post.pk
        obj.__dict__.update({k: v for k, v in post.__dict__.items() if not k.startswith("_")})

    def save_related(self, request, form, formsets, change):
        return None  # no many-to-many fields or inlines; the service saved everything

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status not in EDITABLE:
            return self.club_times([f.name for f in self.model._meta.fields])
        return self.club_times(self.readonly_fields)

    @admin.action(description="Retry selected failed posts")
    def retry_failed(self, request, queryset):
        _each(self, request, queryset, services.post_retry, "scheduled for another try")

    @admin.action(description="Cancel selected scheduled posts (back to draft)")
    def cancel_scheduled(self, request, queryset):
        _each(self, request, queryset, services.post_cancel, "cancelled")


class CompositionVersionInline(admin.TabularInline):
    model = SocialPost
    fields = ["connection", "status", "content", "overridden_fields", "scheduled_at", "published_at", "platform_url"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Composition)
class CompositionAdmin(TenantScopedAdmin):
    """A post written once for several networks, with each network's version. Shown here; written through the
    composer and the API, so every version is held to its network's rules and the status flow."""

    list_display = ["__str__", "club", "campaign", "created_by", "created_at"]
    list_filter = ["club", "campaign"]
    search_fields = ["content", "created_by"]
    date_hierarchy = "created_at"
    inlines = [CompositionVersionInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PostMetricSnapshot)
class PostMetricSnapshotAdmin(TenantScopedAdmin):
    list_display = ["post", "taken_at", "likes", "comments", "shares", "reach", "impressions"]
    date_hierarchy = "taken_at"
    search_fields = ["post__content"]
    list_filter = ["post__connection__platform"]


@admin.register(MetricReadUsage)
class MetricReadUsageAdmin(TenantScopedAdmin):
    """The metric sync's platform calls per month and platform: what the monthly read budget is spent on.
    Counted by the sync itself, so nobody adds or edits rows here."""

    list_display = ["month", "platform", "calls", "tenant"]
    list_filter = ["platform", "month"]
    ordering = ["-month", "platform"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SchedulerHeartbeat)
class SchedulerHeartbeatAdmin(NaturalKeyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "last_run_at"]
    date_hierarchy = "last_run_at"
    search_fields = ["name"]
    list_filter = ["name"]

    def has_module_permission(self, request):
        return request.user.is_superuser


# Who did what to each SocialPost, read-only and tenant-scoped.
admin.site.register(SocialPost.history.model, HistoryAdmin)

@admin.register(CalendarFeed)
class CalendarFeedAdmin(TenantScopedAdmin):
    """Who has a calendar feed address. The address itself is never stored (only its hash, not shown);
    deleting a row stops that feed."""

    list_display = ["user", "created_at", "last_read_at"]
    search_fields = ["user__username"]
    fields = ["user", "created_at", "last_read_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # made by its owner on the "Calendar feed" page

    def has_change_permission(self, request, obj=None):
        return False
