from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from crm.admin_dates import ClubTimesAdminMixin
from crm.admin_scoping import NaturalKeyAdminMixin, TenantScopedAdmin
from crm.models import Campaign, Club, Member, MessageTemplate, Segment, StaffMembership, Tenant
from crm.tenancy import membership_of
from promotions.suppression import member_suppressions, suppression_summary


@admin.register(Tenant)
class TenantAdmin(ClubTimesAdminMixin, NaturalKeyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "name", "auto_promote", "posts_need_approval", "default_send_time", "time_locale", "created_at"]
    list_filter = ["auto_promote"]
    search_fields = ["id", "name"]
    date_hierarchy = "created_at"
    exclude = ["inbound_event_secret"]
    readonly_fields = ["event_signing_secret"]

    @admin.display(description="Event signing secret")
    def event_signing_secret(self, obj):
        # The secret itself stays off the admin; this says where it is shown and renewed.
        return format_html(
            "Kept off this page. The tenant's admins see it, and generate a new one, on their staff pages: "
            '<a href="{}">Promotions → Promotion defaults → Event signing secret</a>.',
            reverse("promotions:settings"))

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        membership = membership_of(request.user)
        return queryset.filter(pk=membership.tenant_id if membership else None)

    # Creating or removing a tenant is an operator's act (see the create_tenant command).
    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Club)
class ClubAdmin(TenantScopedAdmin):
    list_display = ["name", "tenant", "timezone", "time_locale", "default_send_time", "latitude", "longitude"]
    list_filter = ["time_locale"]
    search_fields = ["name", "id"]


@admin.register(Member)
class MemberAdmin(TenantScopedAdmin):
    list_display = ["__str__", "club", "email", "phone", "email_consent", "sms_consent", "created_at"]
    list_filter = ["club", "email_consent", "sms_consent"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    date_hierarchy = "created_at"
    list_select_related = ["club"]
    readonly_fields = ["suppressed"]

    @admin.display(description="Not sent to")
    def suppressed(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        lines = [f"{s.address}: {suppression_summary(s, club=obj.club)}" for s in member_suppressions(member=obj)]
        return "; ".join(lines) or "Nothing suppressed"


@admin.register(Segment)
class SegmentAdmin(TenantScopedAdmin):
    list_display = ["name", "club", "tenant"]
    list_filter = ["club"]
    search_fields = ["name"]
    filter_horizontal = ["members"]


@admin.register(Campaign)
class CampaignAdmin(TenantScopedAdmin):
    list_display = ["name", "club", "starts_on", "ends_on", "created_at"]
    list_filter = ["club"]
    search_fields = ["name"]
    date_hierarchy = "created_at"


@admin.register(MessageTemplate)
class MessageTemplateAdmin(TenantScopedAdmin):
    list_display = ["name", "channel", "subject", "tenant"]
    list_filter = ["channel"]
    search_fields = ["name", "subject", "body"]

    class Media:
        # Under the body of an SMS template: its encoding and segments, as a typical member would get it.
        js = ["js/sms-count.js"]


@admin.register(StaffMembership)
class StaffMembershipAdmin(TenantScopedAdmin):
    list_display = ["user", "tenant", "role"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email"]
    filter_horizontal = ["clubs", "approver_for_clubs"]
