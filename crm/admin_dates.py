"""Dates and times in the admin: the staff pages' format (crm/dates.py), on the clock of the row's club.

Django's admin would write a datetime column in the active timezone and the site's locale format.
``ClubTimesAdminMixin`` swaps every read-only datetime of a ModelAdmin (list columns, read-only
fields, view-only pages) for a column that writes it with ``crm.dates.format_moment`` in the row's
club (found through the model's ``club_path``); a row without a club uses the active timezone and
the tenant's style. Sorting by the column still sorts by the field.

Editable datetimes are typed and prefilled on the row's club clock too (the change page runs in that
timezone), and the form names the clock beside them. A new row has no club yet: the signed-in club's
clock applies, and is named.
"""

from django.contrib.admin.utils import unquote
from django.db import models
from django.utils import timezone
from django.utils.text import capfirst

from crm import dates
from crm.clock import club_zone

SUFFIX = "_club_time"


def time_field_names(model):
    return [f.name for f in model._meta.concrete_fields if isinstance(f, models.DateTimeField)]


def row_club(obj):
    """The club a row belongs to, following its ``club_path`` ("pk" for a club itself); None when tenant-wide."""
    path = getattr(type(obj), "club_path", None)
    if not path:
        return None
    if path == "pk":
        return obj
    current = obj
    for part in path.split("__"):
        current = getattr(current, part, None)
        if current is None:
            return None
    return current


def _column(field):
    def show(obj):
        value = getattr(obj, field.name)
        return None if value is None else dates.format_moment(value, row_club(obj))

    show.short_description = capfirst(field.verbose_name)
    show.admin_order_field = field.name
    show.__name__ = field.name + SUFFIX
    return show


def with_club_times(model_admin):
    """Give an admin registered by another app (logins, periodic tasks) the same columns."""
    if isinstance(model_admin, ClubTimesAdminMixin):
        return model_admin
    cls = type(model_admin)
    model_admin.__class__ = type(cls.__name__, (ClubTimesAdminMixin, cls), {"__module__": cls.__module__})
    model_admin.install_club_times()
    return model_admin


class ClubTimesAdminMixin:
    """Every datetime the admin shows (not edits) in the one staff format, on the row's club clock."""

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        self.install_club_times()

    def install_club_times(self):
        self._club_time_fields = {}
        for name in time_field_names(self.model):
            setattr(self, name + SUFFIX, _column(self.model._meta.get_field(name)))
            self._club_time_fields[name] = name + SUFFIX

    def club_times(self, names):
        """``names`` with each datetime field swapped for its club-time column."""
        return [self._club_time_fields.get(n, n) if isinstance(n, str) else n for n in names]

    def get_list_display(self, request):
        return self.club_times(super().get_list_display(request))

    def get_readonly_fields(self, request, obj=None):
        return self.club_times(super().get_readonly_fields(request, obj))

    def get_fieldsets(self, request, obj=None):
        # Read-only names in the form's layout are swapped too; a view-only page shows every field read-only.
        fieldsets = super().get_fieldsets(request, obj)
        readonly = set(self.get_readonly_fields(request, obj))
        view_only = not self.has_change_permission(request, obj)
        swapped = []
        for title, options in fieldsets:
            fields = []
            for name in options.get("fields", ()):
                column = self._club_time_fields.get(name) if isinstance(name, str) else None
                fields.append(column if column and (view_only or column in readonly) else name)
            swapped.append((title, {**options, "fields": fields}))
        return swapped

    def _row_zone(self, request, object_id):
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        return club_zone(row_club(obj)) if obj is not None else timezone.get_current_timezone()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with timezone.override(self._row_zone(request, object_id)):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()  # the inputs are written now, on this clock, not after the view returns
            return response

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(db_field, models.DateTimeField) and field is not None:
            # Built while the change page runs on the row's clock (changeform_view), so this names it.
            clock = f"On the {timezone.get_current_timezone_name()} clock."
            field.help_text = f"{field.help_text} {clock}".strip()
        return field
