"""The credentials API: thin views that parse input, call a selector or service, and render.

Every route under ``/api/credentials/{id}/`` first looks the credential up for the caller, so a
credential the caller may not see answers 404 to every verb, OPTIONS included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from audit.api.serializers import AuditEventOutput
from config.actors import signed_in
from config.addresses import client_ip
from config.api.errors import PreconditionFailed, PreconditionRequired
from config.api.pagination import OneQueryPageNumberPagination
from config.api.schema import errors_for
from config.prepared import prepared_statements
from credentials import selectors, services, sharing
from credentials.api.serializers import (
    ROW_COLUMNS,
    CredentialCreateInput,
    CredentialOutput,
    CredentialTypeOutput,
    CredentialUpdateInput,
    ListFilters,
    ShareInput,
    ShareOutput,
    TestRequestOutput,
    UnshareFilters,
    UsageOutput,
    credential_list_row,
)
from credentials.errors import CredentialPermissionDenied, StaleVersion
from credentials.models import Credential, CredentialType
from credentials.permissions import CHANGE, actions_for, actions_for_rows, user_can
from credentials.testers import runs

_IF_MATCH = re.compile(r'^\s*(?:W/)?"(\d{1,9})"\s*$')


def _query(request: Request) -> dict[str, str]:
    # A plain dict: DRF reads a blank value in a QueryDict as absent, so "?type=" would quietly
    # list everything; in a dict it is a blank value, refused with the field's message.
    return request.query_params.dict()


def etag(version: int) -> str:
    return f'"{version}"'


@extend_schema_view(
    list=extend_schema(
        summary="Credential types and their field schemas",
        responses={200: CredentialTypeOutput, **errors_for(401)},
    ),
    retrieve=extend_schema(
        summary="One credential type",
        responses={200: CredentialTypeOutput, **errors_for(401, 404)},
    ),
)
class CredentialTypeViewSet(viewsets.GenericViewSet):
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"  # the router's default refuses dots: an HTML 404 instead of the API's
    pagination_class = None
    serializer_class = CredentialTypeOutput
    queryset = CredentialType.objects.none()  # for the schema; reads go through the selector

    def list(self, request: Request) -> Response:
        return Response(CredentialTypeOutput(selectors.credential_type_list(), many=True).data)

    def retrieve(self, request: Request, slug: str) -> Response:
        row = selectors.credential_type_list().filter(slug=slug).first()
        if row is None:
            return Response({"detail": "No such credential type.", "code": "not_found"}, status=404)
        return Response(CredentialTypeOutput(row).data)


# Declared on each operation whose path has {id}: on the class it would reach list and create too.
ID_PARAMETER = OpenApiParameter("id", str, OpenApiParameter.PATH, description="The credential's id (a UUID).")
IF_MATCH_PARAMETER = OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False)


# Shared by the credential routes: the caller's view of the credential named in the URL. (A
# comment, not a docstring: drf-spectacular would show a docstring on every operation.)
class CredentialRoute(viewsets.GenericViewSet):
    queryset = Credential.objects.none()  # for the schema; reads go through the selectors
    serializer_class: type[serializers.Serializer[Any]] = CredentialOutput
    lookup_value_regex = "[^/]+"
    credential: Credential  # the one the URL's {pk} names: set by initial() on every route that has one

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if "pk" in kwargs:
            self.credential = selectors.credential_get_for_user(request.user, credential_id=kwargs["pk"])

    def _output(self, credential: Credential) -> dict[str, Any]:
        permissions = actions_for(self.request.user, credential)
        return CredentialOutput(credential, context={"permissions": permissions}).data


@method_decorator(sensitive_post_parameters(), name="dispatch")
@extend_schema_view(
    list=extend_schema(
        summary="Credentials you may see",
        parameters=[ListFilters],
        responses={200: CredentialOutput(many=True), **errors_for(400, 401, 404)},
    ),
    create=extend_schema(
        summary="Store a credential",
        request=CredentialCreateInput,
        responses={201: CredentialOutput, **errors_for(400, 401, 413, 415)},
    ),
    retrieve=extend_schema(
        summary="One credential: non-secret fields, and whether each secret is set",
        parameters=[ID_PARAMETER],
        responses={200: CredentialOutput, **errors_for(401, 404)},
    ),
    update=extend_schema(
        summary="Replace a credential's attributes; a secret omitted is kept",
        request=CredentialUpdateInput,
        parameters=[ID_PARAMETER, IF_MATCH_PARAMETER],
        responses={200: CredentialOutput, **errors_for(400, 401, 403, 404, 409, 412, 413, 415, 428)},
    ),
    partial_update=extend_schema(
        summary="Change some of a credential's attributes; a secret omitted is kept",
        request=CredentialUpdateInput,
        parameters=[ID_PARAMETER, IF_MATCH_PARAMETER],
        responses={200: CredentialOutput, **errors_for(400, 401, 403, 404, 409, 412, 413, 415, 428)},
    ),
    destroy=extend_schema(
        summary="Delete a credential (its audit trail stays); refused (409) while plugins use it",
        parameters=[ID_PARAMETER],
        responses={204: OpenApiResponse(description="Deleted."), **errors_for(401, 403, 404, 409)},
    ),
)
class CredentialViewSet(CredentialRoute):
    pagination_class = OneQueryPageNumberPagination

    def list(self, request: Request) -> Response:
        filters = ListFilters(data=_query(request))
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        days = wanted.get("expiring_within")
        found = selectors.credential_list_for_user(
            request.user,
            type_slug=wanted.get("type"),
            environment=wanted.get("environment"),
            tag=wanted.get("tag"),
            search=wanted.get("search"),
            expiring_within=timedelta(days=days) if days is not None else None,
            with_grants=False,
        ).order_by("name", "environment", "pk")  # the id settles ties, so pages never overlap
        found_ids = found.values("id")
        # The page's ids (and the count) first, then its rows with their flags: see credential_rows_for_user.
        # Both statements are long and the same on every call: planned once per connection.
        with prepared_statements():
            ids = [row["id"] for row in self.paginate_queryset(found_ids) or ()]  # a page: the class paginates
            rows = selectors.credential_rows_for_user(request.user, ids=ids, columns=ROW_COLUMNS)
        now = timezone.now()
        allowed = actions_for_rows(request.user, rows)
        # Rows built by hand, not by CredentialOutput: the "list 100 (API)" figure (see credential_list_row).
        return self.get_paginated_response(
            [credential_list_row(row, actions, now) for row, actions in zip(rows, allowed, strict=True)]
        )

    def create(self, request: Request) -> Response:
        payload = CredentialCreateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        credential = services.credential_create(
            actor=signed_in(request.user), type_slug=data.pop("type"), ip=client_ip(request), **data
        )
        return Response(
            self._output(credential), status=status.HTTP_201_CREATED, headers={"ETag": etag(credential.version)}
        )

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self._output(self.credential), headers={"ETag": etag(self.credential.version)})

    def update(self, request: Request, pk: str) -> Response:
        return self._change(request, partial=False)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self._change(request, partial=True)

    def _change(self, request: Request, *, partial: bool) -> Response:
        # Authorization before the body and the preconditions (RFC 9110, 13.2.1): who may not change
        # the credential hears 403 (404 if they may not see it, from initial()), never 400, 428 or 412.
        # The service checks again under the row's lock, in case a share was taken back meanwhile.
        if not user_can(request.user, CHANGE, self.credential):
            raise CredentialPermissionDenied("You may not change this credential.")
        payload = CredentialUpdateInput(data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        changes = dict(payload.validated_data)
        expected, from_header = expected_version(request, changes.pop("version", None))
        with stale_as_412(from_header):
            services.credential_update(
                actor=signed_in(request.user),
                credential_id=self.credential.pk,
                changes=changes,
                expected_version=expected,
                ip=client_ip(request),
            )
        fresh = selectors.credential_get_for_user(request.user, credential_id=self.credential.pk)
        return Response(self._output(fresh), headers={"ETag": etag(fresh.version)})

    def destroy(self, request: Request, pk: str) -> Response:
        services.credential_delete(
            actor=signed_in(request.user), credential_id=self.credential.pk, ip=client_ip(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="The credential's audit events, newest first",
        parameters=[ID_PARAMETER],
        responses={200: AuditEventOutput(many=True), **errors_for(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["get"], url_path="audit-logs")
    def audit_logs(self, request: Request, pk: str) -> Response:
        events = selectors.credential_audit_events_for_user(request.user, credential=self.credential)
        page = self.paginate_queryset(events)
        return self.get_paginated_response(AuditEventOutput(page, many=True).data)

    @extend_schema(
        summary="Test the credential against its server, as a background task",
        description="Answers 202 at once; poll the credential (status_url) until test_status is passed or "
        "failed. A test already running is not started again. Needs *use*.",
        parameters=[ID_PARAMETER],
        request=None,
        responses={202: TestRequestOutput, **errors_for(401, 403, 404, 503)},
    )
    @action(detail=True, methods=["post"], url_path="test", pagination_class=None)
    def run_test(self, request: Request, pk: str) -> Response:
        credential = runs.credential_test_request(
            actor=signed_in(request.user), credential_id=self.credential.pk, ip=client_ip(request)
        )
        body = TestRequestOutput(credential).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]})

    @extend_schema(
        summary="When and by which services the secret was last used, and the plugins that use it",
        parameters=[ID_PARAMETER],
        responses={200: UsageOutput, **errors_for(401, 403, 404)},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def usage(self, request: Request, pk: str) -> Response:
        return Response(UsageOutput(selectors.credential_usage_for_user(request.user, credential=self.credential)).data)


def if_match_version(header: str) -> int:
    match = _IF_MATCH.match(header)
    if match is None:
        raise ValidationError({"If-Match": ['Send the ETag you received, such as "3".']})
    return int(match.group(1))


def expected_version(request: Request, body_version: int | None) -> tuple[int, bool]:
    """The version the client read, If-Match first, and whether it came as If-Match; 428 when it sent neither."""
    header = request.headers.get("If-Match")
    header_version = if_match_version(header) if header is not None else None
    expected = header_version if header_version is not None else body_version
    if expected is None:
        raise PreconditionRequired()
    return expected, header_version is not None


@contextmanager
def stale_as_412(from_header: bool) -> Iterator[None]:
    """A stale version is 412 when the client sent If-Match (RFC 9110), else the service's 409."""
    try:
        yield
    except StaleVersion as exc:
        if from_header:
            raise PreconditionFailed(str(exc)) from None
        raise


class CredentialSharesViewSet(CredentialRoute):
    pagination_class = None
    serializer_class = ShareOutput

    @extend_schema(
        summary="Who the credential is shared with",
        parameters=[ID_PARAMETER],
        responses={200: ShareOutput(many=True), **errors_for(401, 403, 404)},
    )
    def list(self, request: Request, pk: str) -> Response:
        shares = selectors.credential_shares_for_user(request.user, credential=self.credential)
        return Response(ShareOutput(shares, many=True).data)

    @extend_schema(
        summary="Share with a user or a group: use, view or change, until a time if given",
        parameters=[ID_PARAMETER],
        request=ShareInput,
        responses={200: ShareOutput, **errors_for(400, 401, 403, 404, 413, 415)},
    )
    def create(self, request: Request, pk: str) -> Response:
        payload = ShareInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        share = sharing.credential_share(
            actor=signed_in(request.user),
            credential_id=self.credential.pk,
            permissions=data["permissions"],
            user=data.get("user"),
            group=data.get("group"),
            expires_at=data.get("expires_at"),
            ip=client_ip(request),
        )
        return Response(ShareOutput(share).data)

    @extend_schema(
        summary="Take back some or all of a user's or group's permissions",
        parameters=[ID_PARAMETER, UnshareFilters],
        responses={200: ShareOutput, **errors_for(400, 401, 403, 404)},
    )
    def destroy_share(self, request: Request, pk: str) -> Response:
        query = UnshareFilters(data=_query(request))
        query.is_valid(raise_exception=True)
        data = query.validated_data
        share = sharing.credential_unshare(
            actor=signed_in(request.user),
            credential_id=self.credential.pk,
            permissions=data.get("permissions"),
            user=data.get("user"),
            group=data.get("group"),
            ip=client_ip(request),
        )
        return Response(ShareOutput(share).data)
