"""OpenAPI pieces shared by the endpoints: the one error body, and the statuses that use it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from config.api.inputs import StrictSlugRelatedField


class StrictSlugRelatedFieldSchema(OpenApiSerializerFieldExtension):
    """A StrictSlugRelatedField is documented as the text it takes (with its length), not as the model's column."""

    target_class = StrictSlugRelatedField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target.name_field, direction)
        auto_schema._insert_field_validators(self.target.name_field, schema)  # its maxLength
        return schema


class ErrorOutput(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    # An API field named like Serializer.errors: DRF's metaclass takes it off the class, as the stubs cannot know.
    errors = serializers.DictField(  # type: ignore[assignment]
        required=False, help_text='Bad input only: messages by field; a type\'s fields under "fields".'
    )
    used_by = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="A credential in use: what uses it (409)."
    )


_MEANINGS = {
    400: "Bad input: messages by field under errors.",
    401: "Not authenticated.",
    403: "You may see this credential but not do this.",
    404: "No such object (or page), or you may not see it.",
    409: "The credential changed since you read it (version in the body), or plugins use it (used_by).",
    412: "The credential changed since you read it (If-Match).",
    413: "The body is larger than the server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE).",
    415: "The body must be JSON, sent as Content-Type: application/json.",
    428: "Send the version you read, in the body or as If-Match.",
    429: "Too many requests; retry after the time in Retry-After.",
    503: "A service the request needs (the task queue) is unreachable; nothing was started. Try again later.",
}


def errors_for(*statuses: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorOutput, description=_MEANINGS[code]) for code in statuses}
