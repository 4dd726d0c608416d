"""Time-bound access through the API: requestable credentials, access requests and their decisions, who may request."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from config.actors import signed_in
from config.addresses import client_ip
from config.api.inputs import StrictBooleanField, StrictCharField, StrictInput
from config.api.pagination import OneQueryPageNumberPagination
from config.api.schema import errors_for
from credentials.access import selectors
from credentials.access.rules import MAX_REASON, REQUESTABLE, max_hours
from credentials.access.services import (
    access_request_approve,
    access_request_cancel,
    access_request_create,
    access_request_deny,
    credential_set_requestable,
)
from credentials.api.serializers import group_field
from credentials.api.views import ID_PARAMETER, CredentialRoute
from credentials.models import AccessRequest, AccessRequestStatus, Credential
from credentials.permissions import SHARE
from credentials.selectors import require_view

_REQUEST_ID = OpenApiParameter("request_id", str, OpenApiParameter.PATH, description="The request's id (a UUID).")


class RequestableOutput(serializers.Serializer):
    """All that a member who may request a credential learns of it."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    type = serializers.CharField(source="type__slug")
    type_name = serializers.CharField(source="type__name")
    environment = serializers.CharField()
    owner = serializers.CharField(source="owner__username")
    description = serializers.CharField()


class AccessRequestInput(StrictInput):
    credential = serializers.UUIDField(help_text="A credential listed by GET /api/requestable-credentials/.")
    permission = serializers.ChoiceField(choices=list(REQUESTABLE))
    hours = serializers.IntegerField(help_text="How long the grant lasts once approved (ACCESS_REQUEST_MAX_HOURS).")
    reason = StrictCharField(max_length=MAX_REASON)


class DenyInput(StrictInput):
    reason = StrictCharField(max_length=MAX_REASON, help_text="Why, for the requester.")


class AccessRequestOutput(serializers.Serializer):
    id = serializers.UUIDField()
    credential = serializers.UUIDField(source="credential_id")
    credential_name = serializers.CharField(source="credential.name")
    requester = serializers.CharField(source="requester.username")
    permission = serializers.CharField()
    hours = serializers.IntegerField()
    reason = serializers.CharField()
    status = serializers.ChoiceField(choices=AccessRequestStatus.choices)
    created_at = serializers.DateTimeField()
    answer_by = serializers.DateTimeField(help_text="Unanswered by then, it expires.")
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_reason = serializers.CharField()
    grant_expires_at = serializers.DateTimeField(allow_null=True, help_text="When approved: the grant's end.")


class ReviewFilters(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["pending", "all"], default="pending", help_text="Pending ones only (the default), or all."
    )


class RequestableInput(StrictInput):
    group = group_field(allow_null=True, help_text="Members of this group may request it; null: none.")
    everyone = StrictBooleanField(required=False, default=False, help_text="Everyone signed in may request it.")
    max_access_hours = serializers.IntegerField(
        required=False, allow_null=True, help_text="The longest grant a request may get (ACCESS_REQUEST_MAX_HOURS)."
    )


class RequestableSettingsOutput(serializers.Serializer):
    group = serializers.CharField(allow_null=True)
    everyone = serializers.BooleanField()
    max_access_hours = serializers.IntegerField(allow_null=True, help_text="Its own cap, if any.")
    effective_max_hours = serializers.IntegerField(help_text="The longest a request may ask for now.")


class RequestableCredentialViewSet(viewsets.GenericViewSet):
    queryset = Credential.objects.none()  # for the schema; reads go through the selector
    serializer_class = RequestableOutput
    pagination_class = OneQueryPageNumberPagination

    @extend_schema(
        summary="Credentials you may request access to: their names and little else",
        responses={200: RequestableOutput(many=True), **errors_for(400, 401, 404)},
    )
    def list(self, request: Request) -> Response:
        rows = selectors.requestable_credentials_for_user(signed_in(request.user))
        page = self.paginate_queryset(rows) or []
        return self.get_paginated_response(RequestableOutput(page, many=True).data)


class AccessRequestViewSet(viewsets.GenericViewSet):
    queryset = AccessRequest.objects.none()  # for the schema; reads go through the selectors
    serializer_class = AccessRequestOutput
    pagination_class = OneQueryPageNumberPagination
    lookup_value_regex = "[^/]+"

    @extend_schema(
        summary="Your access requests, newest first",
        responses={200: AccessRequestOutput(many=True), **errors_for(400, 401, 404)},
    )
    def list(self, request: Request) -> Response:
        rows = selectors.access_requests_of_user(signed_in(request.user))
        page = self.paginate_queryset(rows) or []
        return self.get_paginated_response(AccessRequestOutput(page, many=True).data)

    @extend_schema(
        summary="Ask for use or view of a requestable credential, for some hours, saying why",
        description="404 for a credential you may not discover; 400 by field for a permission you hold or "
        "already asked for, hours over the cap or under one, or no reason.",
        request=AccessRequestInput,
        responses={201: AccessRequestOutput, **errors_for(400, 401, 404, 413, 415)},
    )
    def create(self, request: Request) -> Response:
        payload = AccessRequestInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        made = access_request_create(
            actor=signed_in(request.user),
            credential_id=data["credential"],
            permission=data["permission"],
            hours=data["hours"],
            reason=data["reason"],
            ip=client_ip(request),
        )
        return Response(AccessRequestOutput(made).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="One access request: yours, or one you may decide",
        parameters=[_REQUEST_ID],
        responses={200: AccessRequestOutput, **errors_for(401, 404)},
    )
    def retrieve(self, request: Request, request_id: str) -> Response:
        found = selectors.access_request_get_for_user(signed_in(request.user), request_id=request_id)
        return Response(AccessRequestOutput(found).data)

    @extend_schema(
        summary="The access requests you may decide (as owner, team manager or administrator), oldest first",
        parameters=[ReviewFilters],
        responses={200: AccessRequestOutput(many=True), **errors_for(400, 401, 404)},
    )
    def review(self, request: Request) -> Response:
        filters = ReviewFilters(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        rows = selectors.access_requests_to_review(
            signed_in(request.user), pending_only=filters.validated_data["status"] == "pending"
        )
        page = self.paginate_queryset(rows) or []
        return self.get_paginated_response(AccessRequestOutput(page, many=True).data)

    @extend_schema(
        summary="Approve: a grant of what was asked, ending that many hours from now",
        description="Nobody approves their own request (403). 409 when it was already decided, cancelled or "
        "waited past its time.",
        parameters=[_REQUEST_ID],
        request=None,
        responses={200: AccessRequestOutput, **errors_for(401, 403, 404, 409)},
    )
    def approve(self, request: Request, request_id: str) -> Response:
        done = access_request_approve(actor=signed_in(request.user), request_id=request_id, ip=client_ip(request))
        return Response(AccessRequestOutput(done).data)

    @extend_schema(
        summary="Deny, with a reason for the requester",
        parameters=[_REQUEST_ID],
        request=DenyInput,
        responses={200: AccessRequestOutput, **errors_for(400, 401, 403, 404, 409, 413, 415)},
    )
    def deny(self, request: Request, request_id: str) -> Response:
        payload = DenyInput(data=request.data)
        payload.is_valid(raise_exception=True)
        done = access_request_deny(
            actor=signed_in(request.user),
            request_id=request_id,
            reason=payload.validated_data["reason"],
            ip=client_ip(request),
        )
        return Response(AccessRequestOutput(done).data)

    @extend_schema(
        summary="Withdraw your own pending request",
        parameters=[_REQUEST_ID],
        request=None,
        responses={200: AccessRequestOutput, **errors_for(401, 403, 404, 409)},
    )
    def cancel(self, request: Request, request_id: str) -> Response:
        done = access_request_cancel(actor=signed_in(request.user), request_id=request_id, ip=client_ip(request))
        return Response(AccessRequestOutput(done).data)


class CredentialRequestableViewSet(CredentialRoute):
    pagination_class = None
    serializer_class = RequestableSettingsOutput

    def _settings(self, credential: Credential) -> dict[str, Any]:
        group = credential.requestable_by
        return {
            "group": group.name if group is not None else None,
            "everyone": credential.requestable_by_everyone,
            "max_access_hours": credential.max_access_hours,
            "effective_max_hours": max_hours(credential),
        }

    @extend_schema(
        summary="Who may request access to the credential, and for how long at most",
        parameters=[ID_PARAMETER],
        responses={200: RequestableSettingsOutput, **errors_for(401, 403, 404)},
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        require_view(request.user, self.credential, "request settings")
        return Response(RequestableSettingsOutput(self._settings(self.credential)).data)

    @extend_schema(
        summary="Make the credential requestable by a group, by everyone signed in, or by nobody",
        description=f"Needs *{SHARE}*.",
        parameters=[ID_PARAMETER],
        request=RequestableInput,
        responses={200: RequestableSettingsOutput, **errors_for(400, 401, 403, 404, 413, 415)},
    )
    def update(self, request: Request, pk: str) -> Response:
        payload = RequestableInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        credential = credential_set_requestable(
            actor=signed_in(request.user),
            credential_id=self.credential.pk,
            group=data.get("group"),
            everyone=data.get("everyone", False),
            max_access_hours=data.get("max_access_hours"),
            ip=client_ip(request),
        )
        return Response(RequestableSettingsOutput(self._settings(credential)).data)
