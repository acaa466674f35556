"""API tokens in the admin: who has one, since when, until when; deleting one revokes it. Never the key."""

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.authtoken.models import TokenProxy

from crm.admin_scoping import TenantScopedAdmin
from crm.dates import format_moment
from crm.models import ApiToken
from crm.tokens import api_token_expires_at, api_token_is_expired

# DRF's own token admin lists every key in full.
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)


class ApiTokenChangeList(ChangeList):
    def url_for_result(self, result):
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                       args=(quote(result.user_id),), current_app=self.model_admin.admin_site.name)


@admin.register(ApiToken)
class ApiTokenAdmin(TenantScopedAdmin):
    list_display = ["user", "key_prefix", "created", "expires_at", "state"]
    fields = ["user", "key_prefix", "created", "expires_at", "state"]
    readonly_fields = fields
    search_fields = ["user__username"]
    ordering = ["-created"]
    actions = None  # bulk actions select by primary key, which is the key itself; revoke from a token's page

    @admin.display(description="Key")
    def key_prefix(self, token):
        return f"{token.key[:4]}…"

    @admin.display(description="Expires")
    def expires_at(self, token):
        return format_moment(api_token_expires_at(token)) or None

    @admin.display(description="State")
    def state(self, token):
        return "Expired" if api_token_is_expired(token) else "Valid"

    def get_changelist(self, request, **kwargs):
        return ApiTokenChangeList

    def get_object(self, request, object_id, from_field=None):
        # URLs carry the user id (see ApiToken); the lookup stays inside the caller's tenant.
        try:
            user_id = get_user_model()._meta.pk.to_python(object_id)
            return self.get_queryset(request).get(user_id=user_id)
        except (ApiToken.DoesNotExist, ValidationError, ValueError):
            return None

    def has_add_permission(self, request):
        return False  # tokens are issued by POST /api/v1/auth/token/, to their owner only

    def has_change_permission(self, request, obj=None):
        return False
