"""The OpenAPI schema documents every error an operation can answer, in the one shape of api_errors."""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from socialcrm.api_inputs import DistinctListField


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for a person.")
    code = serializers.CharField(help_text="What went wrong, for a program (e.g. not_found, illegal_transition).")


class ValidationErrorSerializer(ErrorSerializer):
    fields = serializers.DictField(
        required=False, child=serializers.JSONField(),
        help_text="Per field, its messages; non_field_errors for refusals not tied to one field.",
    )


WRITE_METHODS = ("POST", "PUT", "PATCH")
DESCRIPTIONS = {
    "400": "Invalid input: a malformed body, field errors (`fields`), or a bad filter value.",
    "401": "No credentials, or credentials that are not valid.",
    "403": "Not staff of a tenant, or not allowed to do this.",
    "404": "Not found (or not the caller's), or a page number past the end.",
    "409": "The status flow does not allow this change now.",
    "413": "The request body is larger than the server accepts.",
    "415": "The body's content type is not JSON, form or multipart data.",
    "429": "Too many requests; try again after Retry-After seconds.",
}


class DocumentedErrorsSchema(AutoSchema):
    """AutoSchema plus the error responses every operation can give, and uniqueItems on distinct lists.

    A view that raises IllegalTransition sets ``conflict_on_write = True`` to document 409.
    """

    def _error_codes(self):
        codes = ["400", "429"]
        if self.get_auth():
            codes += ["401", "403"]
        if "{" in self.path or (self.method == "GET" and self._is_list_view()):
            codes.append("404")
        if self.method in WRITE_METHODS:
            codes += ["413", "415"]
        if self.method != "GET" and getattr(self.view, "conflict_on_write", False):
            codes.append("409")
        return sorted(codes)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                serializer = ValidationErrorSerializer if code == "400" else ErrorSerializer
                responses[code] = self._get_response_for_code(serializer, code, direction=direction)
                responses[code]["description"] = DESCRIPTIONS[code]
        return responses

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, DistinctListField):
            schema["uniqueItems"] = True
        return schema
