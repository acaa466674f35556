from rest_framework.permissions import BasePermission

from crm.tenancy import membership_of


class IsTenantStaff(BasePermission):
    """Authenticated staff with a tenant membership; everything they reach is scoped to it."""

    message = "Your login is not a member of any club organisation."

    def has_permission(self, request, view):
        return membership_of(request.user) is not None

