"""Tenant scoping for the API: querysets, filter parameters and related ids in request bodies.

An id from another tenant (or a club out of reach) is answered exactly like an id that does not exist.
"""

from django.core.exceptions import ImproperlyConfigured
from django_filters import rest_framework as filters
from django_filters.filters import QuerySetRequestMixin

from crm.tenancy import scope_queryset
from socialcrm.api_inputs import ReadablePrimaryKeyRelatedField, StrictFilterBackend


class TenantScopedViewSetMixin:
    """Every API queryset goes through the tenancy scope: other tenants' ids are "not found"."""

    base_queryset = None

    def get_queryset(self):
        return scope_queryset(self.base_queryset.all(), self.request.user)


def scoped_choices(queryset):
    """A callable queryset for a filter: the rows the requesting user may see."""

    def choices(request):
        return scope_queryset(queryset.all(), getattr(request, "user", None))

    return choices


class TenantScopedFilterSet(filters.FilterSet):
    """Every model-choice filter (``?club=``, ``?campaign=``, ``?connection=``, ``?promotion=``) resolves
    only within the caller's scope; a foreign id gets the same "Select a valid choice" as an unknown one.
    """

    @classmethod
    def get_filters(cls):
        declared = super().get_filters()
        for flt in declared.values():
            queryset = getattr(flt, "queryset", None)
            if isinstance(flt, QuerySetRequestMixin) and queryset is not None and not callable(queryset):
                flt.queryset = scoped_choices(queryset)
        return declared


class TenantScopedFilterBackend(StrictFilterBackend):
    """The API's filter backend: strict values (``StrictFilterBackend``) and ids scoped to the caller.

    ``filterset_fields`` build a scoped filterset; declared ones must subclass ``TenantScopedFilterSet``.
    """

    filterset_base = TenantScopedFilterSet

    def get_filterset_class(self, view, queryset=None):
        filterset_class = super().get_filterset_class(view, queryset)
        if filterset_class is not None and not issubclass(filterset_class, TenantScopedFilterSet):
            raise ImproperlyConfigured(
                f"{filterset_class.__name__} must subclass TenantScopedFilterSet so its ids are tenant-scoped."
            )
        return filterset_class


class ScopedRelatedField(ReadablePrimaryKeyRelatedField):
    """A related id resolved through the user's tenancy scope: anything else is simply "not found"."""

    def __init__(self, model=None, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        queryset = self.model.objects.all() if self.model is not None else super().get_queryset()
        return scope_queryset(queryset, self.context["request"].user)
