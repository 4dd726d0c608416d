"""GET /api/share-candidates/?q=: users and groups to share with, by name prefix, for the share form's pickers."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.actors import signed_in
from config.api.schema import ErrorOutput, errors_for
from config.api.throttling import ScopedRateThrottle
from credentials.share_candidates import KINDS, MAX_CANDIDATES, MIN_PREFIX, share_candidates


class ShareCandidatesFilters(serializers.Serializer):
    q = serializers.CharField(
        min_length=MIN_PREFIX,
        max_length=150,
        trim_whitespace=True,
        help_text=f"The start of a user name or a group's name, at least {MIN_PREFIX} characters; case is ignored.",
    )
    kind = serializers.ChoiceField(choices=list(KINDS), required=False, help_text="Only users, or only groups.")


class ShareCandidateOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(KINDS))
    name = serializers.CharField(help_text="What the shares endpoint takes as user or group.")
    full_name = serializers.CharField(help_text="A user's full name, or empty (always, for a group).")


class ShareCandidatesOutput(serializers.Serializer):
    results = ShareCandidateOutput(many=True)


class ShareCandidatesView(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "share_candidates"

    @extend_schema(
        summary="Users and groups whose name starts with q: whom a credential can be shared with",
        description=f"Active users other than you, then groups, at most {MAX_CANDIDATES} in all. Only for "
        "those who may share a credential (its owner, a team manager, an administrator). Rate-limited "
        "(SHARE_SEARCH_RATE_LIMIT).",
        parameters=[ShareCandidatesFilters],
        responses={
            200: ShareCandidatesOutput,
            **errors_for(400, 401, 429),
            403: OpenApiResponse(ErrorOutput, description="You may not share any credential."),
        },
    )
    def get(self, request: Request) -> Response:
        filters = ShareCandidatesFilters(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        kinds = (wanted["kind"],) if "kind" in wanted else KINDS
        found = share_candidates(signed_in(request.user), prefix=wanted["q"], kinds=kinds)
        return Response(ShareCandidatesOutput({"results": found}).data)
