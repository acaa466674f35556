"""Read-only serializers that turn many rows into JSON cheaply, with exactly DRF's output.

DRF builds a ``ModelSerializer``'s fields for every serializer instance (once per request) and walks
every field of every row through its generic machinery (``get_attribute`` over the source path, a
callable check, ``SkipField`` and ``None`` handling): on a list page of 50 posts that was about half
of the web process's CPU per request. ``PlannedOutputMixin`` works out once per serializer class how
each field is read, and then reads a row with plain attribute access:

- a field whose source is one column of the row: ``getattr``; ``None`` stays ``None``, anything
  else goes through the field's own ``to_representation`` (so dates keep DRF's format and the active
  timezone, choices their values);
- a field whose source follows foreign keys to a column (``connection.platform``): the same, along
  the path; a missing link falls back to DRF's path for that row;
- a primary-key related field: the row's ``<name>_id`` column, as DRF's pk-only optimisation does;
- a ``SerializerMethodField``: its method, on the serializer at hand;
- anything else (properties, methods, nested serializers, custom ``get_attribute``): DRF's own path,
  with the fields of the serializer at hand.

Only for serializers whose fields do not depend on the request or context (the plan is per class).

``read_columns()`` names the columns the output reads (for ``QuerySet.only``), so a list loads only
those: the fields' columns, the foreign-key paths (``connection__platform``), and what the
serializer's methods read, which it declares as ``Meta.read_also``. None when a field goes DRF's own
way (its columns are not known).
``posts/tests/test_api_output.py`` holds the output equal to DRF's generic one for posts in every state.
"""

from django.core.exceptions import ObjectDoesNotExist
from rest_framework import fields as drf_fields
from rest_framework import relations, serializers


def _column_path(model, field):
    """The attribute path to a model column a field reads as is (through forward foreign keys), or
    None when DRF's generic path is needed."""
    if type(field).get_attribute is not drf_fields.Field.get_attribute or isinstance(field, relations.RelatedField):
        return None
    path = []
    for n, attr in enumerate(field.source_attrs):
        last = n == len(field.source_attrs) - 1
        found = next((f for f in model._meta.concrete_fields if f.name == attr), None)
        if found is None:
            return None
        if last:
            if found.is_relation:
                return None
            path.append(found.attname)
        else:
            if not (found.many_to_one or found.one_to_one):
                return None
            path.append(found.name)
            model = found.related_model
    return tuple(path) or None


class PlannedOutputMixin:
    """For read-only ``ModelSerializer`` output: see the module docstring."""

    @classmethod
    def _build_output_plan(cls, serializer):
        plan = []
        model = cls.Meta.model
        for field in serializer._readable_fields:
            name = field.field_name
            if isinstance(field, serializers.SerializerMethodField):
                plan.append((name, "method", field.method_name, None))
            elif (isinstance(field, relations.PrimaryKeyRelatedField) and field.pk_field is None
                  and len(field.source_attrs) == 1
                  and (column := next((f for f in model._meta.concrete_fields
                                       if f.name == field.source_attrs[0] and f.is_relation), None)) is not None):
                plan.append((name, "pk", column.attname, None))
            elif (path := _column_path(model, field)) is not None:
                plan.append((name, "attr" if len(path) == 1 else "path", path, field))
            else:
                plan.append((name, "generic", None, None))
        return tuple(plan)

    @classmethod
    def read_columns(cls):
        plan = cls.__dict__.get("_planned_output") or cls()._output_plan()
        declared = set(getattr(cls.Meta, "read_generic", ()))  # generic fields whose columns are in read_also
        if any(how == "generic" and name not in declared for name, how, _what, _field in plan):
            return None
        columns = []
        for _name, how, what, field in plan:
            if how in ("attr", "path"):
                columns.append("__".join(field.source_attrs))
            elif how == "pk":
                columns.append(what)
        columns += list(getattr(cls.Meta, "read_also", ()))
        return list(dict.fromkeys(columns))

    def _output_plan(self):
        cls = type(self)
        plan = cls.__dict__.get("_planned_output")
        if plan is None:
            plan = cls._build_output_plan(self)
            cls._planned_output = plan
        return plan

    def to_representation(self, instance):
        data = {}
        for name, how, what, field in self._output_plan():
            if how == "attr":
                value = getattr(instance, what[0])
                data[name] = None if value is None else field.to_representation(value)
                continue
            if how == "pk":
                data[name] = getattr(instance, what)
                continue
            if how == "method":
                data[name] = getattr(self, what)(instance)
                continue
            if how == "path":
                value = instance
                try:
                    for attr in what:
                        value = getattr(value, attr)
                        if value is None:
                            break
                except ObjectDoesNotExist:
                    value = None
                if value is not None:
                    data[name] = field.to_representation(value)
                    continue
            # DRF's own path, with this serializer's fields.
            field = self.fields[name]
            try:
                attribute = field.get_attribute(instance)
            except drf_fields.SkipField:
                continue
            check = attribute.pk if isinstance(attribute, relations.PKOnlyObject) else attribute
            data[name] = None if check is None else field.to_representation(attribute)
        return data
