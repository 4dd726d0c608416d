"""GET /api/credentials/attention/: how many credentials the caller may see need attention, per section, and which.

The answer is a page of the credential list's rows (``credential_list_row``) with two more keys,
``attention`` (the sections a row is in) and ``last_used_at``, under ``counts`` per section.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.pagination import OneQueryPageNumberPagination
from config.api.schema import errors_for
from credentials import selectors
from credentials.api.serializers import ROW_COLUMNS, CredentialOutput, credential_list_row
from credentials.attention import DEFAULT_DAYS, DEFAULT_UNUSED_DAYS, MAX_DAYS, ORDERINGS, SECTIONS
from credentials.models import Credential
from credentials.permissions import actions_for_row
from credentials.selectors import ATTENTION_FLAGS


class AttentionFilters(serializers.Serializer):
    days = serializers.IntegerField(
        min_value=1,
        max_value=MAX_DAYS,
        default=DEFAULT_DAYS,
        help_text="The 'expiring' window: expires within so many days.",
    )
    unused_days = serializers.IntegerField(
        min_value=1,
        max_value=MAX_DAYS,
        default=DEFAULT_UNUSED_DAYS,
        help_text="The 'unused' window: no successful reveal for so many days (and older than that).",
    )
    section = serializers.ChoiceField(
        choices=list(SECTIONS), required=False, help_text="Only this section's rows; every section's when absent."
    )
    ordering = serializers.ChoiceField(
        choices=list(ORDERINGS),
        required=False,
        help_text="A leading - sorts backwards; the section's own order when absent (name without a section).",
    )


class AttentionRowOutput(CredentialOutput):
    attention = serializers.ListField(
        child=serializers.ChoiceField(choices=list(SECTIONS)), help_text="The sections this credential is in."
    )
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="Its secret's last successful reveal.")


_COUNTS_SCHEMA = {
    "type": "object",
    "description": "How many of the credentials you may see are in each section (one may be in several).",
    "properties": {section: {"type": "integer", "minimum": 0} for section in SECTIONS},
    "required": list(SECTIONS),
}


class AttentionPagination(OneQueryPageNumberPagination):
    """The list's pagination, with the sections' counts beside the page."""

    counts: dict[str, int]

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data = {"counts": self.counts, **response.data}
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        return {
            **paginated,
            "properties": {"counts": _COUNTS_SCHEMA, **paginated["properties"]},
            "required": ["counts", *paginated.get("required", [])],
        }


class CredentialAttentionViewSet(viewsets.GenericViewSet):
    queryset = Credential.objects.none()  # for the schema; reads go through the selector
    serializer_class = AttentionRowOutput
    pagination_class = AttentionPagination
    paginator: AttentionPagination

    @extend_schema(
        summary="Credentials that need attention: counts per section and a page of rows",
        description="Of the active credentials you may see: expired, expiring within `days`, failing their "
        "last test, flagged (failing CREDENTIAL_TEST_FLAG_AFTER times or more in a row), never tested, and "
        "unused (no successful reveal for `unused_days`, and made longer ago than that).",
        parameters=[AttentionFilters],
        responses={200: AttentionRowOutput(many=True), **errors_for(400, 401, 404)},
    )
    def list(self, request: Request) -> Response:
        # A plain dict, as the credential list reads it: "?section=" is a blank value, refused.
        filters = AttentionFilters(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        found = selectors.credentials_needing_attention_for_user(
            request.user,
            days=wanted["days"],
            unused_days=wanted["unused_days"],
            section=wanted.get("section"),
            order=wanted.get("ordering"),
        )
        self.paginator.counts = found.counts
        columns = (*ROW_COLUMNS, "last_used_at", *ATTENTION_FLAGS.values())
        page = self.paginate_queryset(found.rows.values(*columns)) or []
        now = timezone.now()
        user = request.user
        return self.get_paginated_response(
            [
                {
                    **credential_list_row(row, actions_for_row(user, row), now),
                    "attention": [section for section in SECTIONS if row[ATTENTION_FLAGS[section]]],
                    "last_used_at": row["last_used_at"],
                }
                for row in page
            ]
        )
