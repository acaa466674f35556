from django.contrib.admin.apps import AdminConfig


class TenantAdminConfig(AdminConfig):
    """django.contrib.admin, with the tenant-scoped site (crm.admin_scoping.TenantAdminSite) as admin.site."""

    default_site = "crm.admin_scoping.TenantAdminSite"
