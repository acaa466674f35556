from crm.tenancy import scope_queryset


class TenantScopedViewSetMixin:
    """Every API queryset goes through the tenancy scope: other tenants' ids are "not found"."""

    base_queryset = None

    def get_queryset(self):
        return scope_queryset(self.base_queryset.all(), self.request.user)
