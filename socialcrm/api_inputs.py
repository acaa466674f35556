"""The input rules of socialcrm.inputs applied to every API serializer and filter.

Serializers opt in with ``InputRulesMixin`` (the API's input serializers all do); filters get
them from ``StrictFilterBackend``, the project's DEFAULT_FILTER_BACKENDS entry, so a FilterSet
needs no changes of its own.
"""

import datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.utils.urls import replace_query_param

from socialcrm import inputs
from socialcrm.keyset import InvalidCursor

# ------------------------------------------------------------------------------------------- serializers


class MomentField(serializers.DateTimeField):
    """A moment within the accepted range (socialcrm.inputs.moment_in_range), returned in UTC."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                inputs.readable_text(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from None
        parsed = super().to_internal_value(value)
        try:
            return inputs.moment_in_range(parsed)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class ReadablePrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related id that is looked up only when it could be one: junk is "not found", never a database error."""

    default_error_messages = {"does_not_exist": "Not found.", "incorrect_type": "Not found."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)) or not inputs.is_readable(data):
            self.fail("does_not_exist", pk_value=data)
        try:
            return super().to_internal_value(data)
        except (DjangoValidationError, ValueError, OverflowError, DataError):  # malformed UUID, huge number
            self.fail("does_not_exist", pk_value=data)


class DistinctListField(serializers.ListField):
    """A list whose items are each given once (channels, reminder days, hashtags, media)."""

    def __init__(self, *args, what="item", **kwargs):
        self.what = what
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        try:
            return inputs.distinct_items(values, what=self.what)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class InputRulesMixin:
    """Dates and times become MomentFields; related ids are looked up safely.

    DRF's CharField already refuses NUL and lone surrogates, so text needs nothing more here.
    """

    serializer_related_field = ReadablePrimaryKeyRelatedField

    def get_fields(self):
        fields = super().get_fields()
        for name, field in list(fields.items()):
            if type(field) is serializers.DateTimeField and not field.read_only:
                fields[name] = MomentField(
                    required=field.required, allow_null=field.allow_null, help_text=field.help_text,
                    **({"default": field.default} if field.default is not serializers.empty else {}),
                )
        return fields


# ------------------------------------------------------------------------------------------- filters


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0); anything else is an error, not "no filter"."""

    widget = forms.TextInput
    TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no"}

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise forms.ValidationError("Use true or false.", code="invalid")

    def validate(self, value):
        pass


class MomentFilterField(django_filters.fields.IsoDateTimeField):
    def to_python(self, value):
        inputs.readable_text(value)
        parsed = super().to_python(value)
        return inputs.moment_in_range(parsed) if isinstance(parsed, datetime.datetime) else parsed


def _apply_rules(filterset):
    for flt in filterset.filters.values():
        if isinstance(flt, django_filters.BooleanFilter):
            flt.field_class = StrictBooleanField
            flt.extra.pop("widget", None)  # the BooleanWidget reads anything unknown as "no filter"
        elif isinstance(flt, (django_filters.IsoDateTimeFilter, django_filters.DateTimeFilter)):
            flt.field_class = MomentFilterField
        flt.__dict__.pop("_field", None)


class StrictFilterBackend(DjangoFilterBackend):
    """Bad filter values answer 400 with the parameter named: strict booleans, moments in range, no NUL.

    A request whose query names nothing but the page (``cursor``, ``page``, ``format``) filters nothing:
    the filterset (a Django form per request) is not built for it.
    """

    NOT_FILTERS = frozenset({"cursor", "page", "format"})

    def filter_queryset(self, request, queryset, view):
        if self.NOT_FILTERS.issuperset(request.query_params.keys()):
            return queryset
        return super().filter_queryset(request, queryset, view)

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        unreadable = {name: ["Null or surrogate characters are not allowed."]
                      for name, values in request.query_params.lists()
                      if name in filterset.filters and not all(inputs.is_readable(v) for v in values)}
        # An empty value for a choice, id, yes/no or time filter names nothing: an error, not "no filter".
        empty = {name: ["Give a value, or leave the parameter out."]
                 for name, values in request.query_params.lists()
                 if name in filterset.filters and not isinstance(filterset.filters[name], django_filters.CharFilter)
                 and any(v == "" for v in values)}
        if unreadable or empty:
            raise serializers.ValidationError({**empty, **unreadable})
        _apply_rules(filterset)
        return filterset


class StrictPageNumberPagination(PageNumberPagination):
    """``?page=`` must be a whole number from 1 (or "last"): an empty or junk page is a 400, not page 1."""

    def get_page_number(self, request, paginator):
        values = request.query_params.getlist(self.page_query_param)
        if values:
            value = values[-1]
            if value not in self.last_page_strings and not (value.isascii() and value.isdigit() and int(value) >= 1):
                raise serializers.ValidationError({self.page_query_param: ["A page is a whole number from 1."]})
        return super().get_page_number(request, paginator)


class KeysetCursorPagination(CursorPagination):
    """Cursor pages for lists that grow large: ``{"next", "previous", "results"}``, no count, no offset.

    The view names its order as ``keyset`` (a ``socialcrm.keyset.Keyset`` over unique keys matching an
    index), so page 3,000 costs what page 1 costs. Filters combine with the cursor (the links keep them).
    A cursor that this list did not write is a 400 naming ``cursor``, never "page not found".
    """

    invalid_cursor_message = "This cursor is not valid for this list: start again from the first page."

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.base_url = request.build_absolute_uri()
        values = request.query_params.getlist(self.cursor_query_param)
        cursor = values[-1] if values else None
        try:
            page = view.keyset.page(queryset, cursor=cursor, size=self.get_page_size(request))
        except InvalidCursor:
            raise serializers.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from None
        self.next_cursor, self.previous_cursor = page.next, page.previous
        return page.rows

    def _link(self, cursor):
        if cursor is None:
            return None
        return replace_query_param(self.base_url, self.cursor_query_param, cursor)

    def get_next_link(self):
        return self._link(self.next_cursor)

    def get_previous_link(self):
        return self._link(self.previous_cursor)
