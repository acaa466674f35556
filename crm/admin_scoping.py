from django.contrib import admin

from crm.tenancy import membership_of, scope_queryset


class TenantScopedAdmin(admin.ModelAdmin):
    """Superusers see every tenant; a tenant admin sees, and can pick, only their tenant's rows."""

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user, all_tenants_for_superuser=True)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and not request.user.is_superuser:
            related = db_field.related_model
            if related._meta.label == "crm.Tenant":
                membership = membership_of(request.user)
                field.queryset = field.queryset.filter(pk=membership.tenant_id if membership else None)
            elif hasattr(related, "tenant"):
                field.queryset = scope_queryset(field.queryset, request.user)
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and not request.user.is_superuser and hasattr(db_field.related_model, "tenant"):
            field.queryset = scope_queryset(field.queryset, request.user)
        return field

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser and "tenant" not in filters and hasattr(self.model, "tenant"):
            filters.insert(0, "tenant")
        return filters
