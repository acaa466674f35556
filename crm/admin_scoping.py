"""Tenant scoping for Django admin.

Superusers see every tenant. A tenant admin (staff with a StaffMembership) sees, picks, filters by
and searches only their tenant's rows (and their clubs' when limited), never sets a row's tenant,
and never renames a natural primary key.
"""

from django.contrib import admin
from django.contrib.admin.filters import FieldListFilter, RelatedFieldListFilter
from django.db.models import AutoField

from crm.admin_dates import ClubTimesAdminMixin, with_club_times
from crm.tenancy import membership_of, scope_queryset


def _is_operator(request):
    return request.user.is_superuser


class ScopedRelatedFieldListFilter(RelatedFieldListFilter):
    """A related-field sidebar that lists only the related rows the admin user may see.

    Registered for every relation in every admin (below), so another tenant's club or campaign
    names never appear in a filter sidebar.
    """

    def field_choices(self, field, request, model_admin):
        if _is_operator(request):
            return super().field_choices(field, request, model_admin)
        related = scope_queryset(field.related_model._default_manager.all(), request.user)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            related = related.order_by(*ordering)
        remote = getattr(field, "remote_field", None)
        if remote is not None and hasattr(remote, "get_related_field") and not field.auto_created:
            attname = remote.get_related_field().attname
        else:
            attname = "pk"
        return [(getattr(obj, attname), str(obj)) for obj in related]


# Every relation filter (`list_filter = ["club"]`, `"campaign"`, ...) in every app's admin is scoped.
FieldListFilter.register(lambda f: f.remote_field, ScopedRelatedFieldListFilter, take_priority=True)


class NaturalKeyAdminMixin:
    """A primary key people type (a tenant's or club's id) is fixed once the row exists.

    Changing it in a form would save a new row under that id, overwriting whatever row holds it.
    Tenant admins never type one: a club's id is generated for them.
    """

    def natural_key_fields(self, request, obj=None):
        pk = self.model._meta.pk
        if not pk.editable or isinstance(pk, AutoField):
            return []
        if obj is not None or (not _is_operator(request) and pk.has_default()):
            return [pk.name]
        return []

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + [name for name in self.natural_key_fields(request, obj) if name not in fields]


def _has_tenant_field(model):
    return any(f.name == "tenant" and f.is_relation for f in model._meta.fields)


class TenantScopedAdmin(ClubTimesAdminMixin, NaturalKeyAdminMixin, admin.ModelAdmin):
    """Superusers see every tenant; a tenant admin sees, and can pick, only their tenant's rows."""

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user, all_tenants_for_superuser=True)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and not _is_operator(request):
            field.queryset = scope_queryset(field.queryset, request.user)
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and not _is_operator(request):
            field.queryset = scope_queryset(field.queryset, request.user)
        return field

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if not _is_operator(request):
            fields = [name for name in fields if name != "tenant"]  # always their own tenant
        return fields

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if _is_operator(request) or not _has_tenant_field(self.model):
            return form
        membership = membership_of(request.user)
        tenant_id = membership.tenant_id if membership else None

        class OwnTenantForm(form):
            def __init__(self, *args, **kw):
                super().__init__(*args, **kw)
                # Set before validation so uniqueness and clean() see the row's real tenant.
                self.instance.tenant_id = tenant_id

        OwnTenantForm.__name__ = form.__name__
        return OwnTenantForm

    def save_model(self, request, obj, form, change):
        if not _is_operator(request) and _has_tenant_field(self.model):
            membership = membership_of(request.user)
            obj.tenant_id = membership.tenant_id if membership else None
        super().save_model(request, obj, form, change)

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if _is_operator(request) and "tenant" not in filters and _has_tenant_field(self.model):
            filters.insert(0, "tenant")
        return filters


class TenantAdminSite(admin.AdminSite):
    """The admin site: every model registered on it is tenant-scoped for anyone but a superuser.

    Models of other apps (logins, groups, API tokens, periodic tasks) get the same rule as ours, so a
    tenant admin cannot tell another tenant's login id from a missing one by a 403 instead of "not found".
    Every admin on it writes dates and times as the staff pages do (crm/admin_dates.py).
    """

    def register(self, model_or_iterable, admin_class=None, **options):
        super().register(model_or_iterable, admin_class, **options)
        models = [model_or_iterable] if isinstance(model_or_iterable, type) else model_or_iterable
        for model in models:
            model_admin = with_club_times(self._registry[model])  # times as staff pages write them
            if not isinstance(model_admin, TenantScopedAdmin):
                _scope_foreign_admin(model_admin)


def _scope_foreign_admin(model_admin):
    unscoped = model_admin.get_queryset

    def get_queryset(request):
        return scope_queryset(unscoped(request), request.user, all_tenants_for_superuser=True)

    model_admin.get_queryset = get_queryset
