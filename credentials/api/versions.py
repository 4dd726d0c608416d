"""/api/credentials/{id}/versions/: a credential's secret history, listed without values, rolled back, destroyed."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.actors import signed_in
from config.addresses import client_ip
from config.api.inputs import StrictInput
from config.api.schema import errors_for
from credentials import selectors
from credentials.api.serializers import CredentialOutput
from credentials.api.views import (
    ID_PARAMETER,
    IF_MATCH_PARAMETER,
    CredentialRoute,
    etag,
    expected_version,
    stale_as_412,
)
from credentials.errors import CredentialPermissionDenied, VersionNotFound
from credentials.models import VersionOrigin
from credentials.permissions import CHANGE, DELETE, user_can
from credentials.versions.services import credential_rollback, credential_version_destroy

_NUMBER = OpenApiParameter("number", int, OpenApiParameter.PATH, description="The version's number (1, 2, ...).")


def _version_number(text: str) -> int:
    """The URL's version number; anything else names no version (404), read after the caller's rights (403)."""
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise VersionNotFound(0)
    return int(text)


class VersionOutput(serializers.Serializer):
    """One kept version: who made it, when, how, and which fields it changed; never a value or its length."""

    number = serializers.IntegerField()
    is_current = serializers.BooleanField(help_text="The payload the credential holds now.")
    origin = serializers.ChoiceField(choices=VersionOrigin.choices)
    restored_from = serializers.IntegerField(allow_null=True, help_text="For a rollback: the version restored.")
    changed_fields = serializers.ListField(child=serializers.CharField(), help_text="Field names only.")
    key_id = serializers.CharField(help_text="The encryption key's id; empty once destroyed.")
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(help_text="A username; empty for the system or a deleted user.")
    event = serializers.UUIDField(source="event_uid", allow_null=True, help_text="The audit event's uid.")
    destroyed_at = serializers.DateTimeField(allow_null=True)
    destroyed_by = serializers.CharField()


class RollbackInput(StrictInput):
    version = serializers.IntegerField(
        required=False, min_value=1, help_text="The credential's version you read (or send If-Match)."
    )


class RollbackOutput(serializers.Serializer):
    credential = CredentialOutput()
    restored_from = serializers.IntegerField()
    secret_version = serializers.IntegerField(help_text="The new version the restored payload became.")
    hosts_restored = serializers.BooleanField(
        help_text="True when the allowed hosts came back with the secret (they were entered with it)."
    )
    message = serializers.CharField()


class CredentialVersionsViewSet(CredentialRoute):
    pagination_class = None  # CREDENTIAL_MAX_VERSIONS bounds the list
    serializer_class = VersionOutput

    @extend_schema(
        summary="The credential's kept versions, newest first: facts only, never a value",
        description="Needs *view*. The newest is the current one.",
        parameters=[ID_PARAMETER],
        responses={200: VersionOutput(many=True), **errors_for(401, 403, 404)},
    )
    def list(self, request: Request, pk: str) -> Response:
        versions = selectors.credential_versions_for_user(request.user, credential=self.credential)
        return Response(VersionOutput(versions, many=True).data)

    @extend_schema(
        summary="Restore a version: its payload sealed again as the newest version",
        description="Needs *change* and the credential's current version (body or If-Match). The version's "
        "allowed hosts come back with it. 404 for a version that does not exist or was destroyed; 400 on "
        "version for the current one, or one that no longer passes the type's checks.",
        parameters=[ID_PARAMETER, _NUMBER, IF_MATCH_PARAMETER],
        request=RollbackInput,
        responses={200: RollbackOutput, **errors_for(400, 401, 403, 404, 409, 412, 415, 428)},
    )
    def rollback(self, request: Request, pk: str, number: str) -> Response:
        # As for PATCH: who may not change it hears 403 before anything about the body or preconditions.
        if not user_can(request.user, CHANGE, self.credential):
            raise CredentialPermissionDenied("You may not change this credential.")
        target = _version_number(number)  # a URL that names no version is a 404 before its body is read
        payload = RollbackInput(data=request.data)
        payload.is_valid(raise_exception=True)
        expected, from_header = expected_version(request, payload.validated_data.get("version"))
        with stale_as_412(from_header):
            done = credential_rollback(
                actor=signed_in(request.user),
                credential_id=self.credential.pk,
                number=target,
                expected_version=expected,
                ip=client_ip(request),
            )
        fresh = selectors.credential_get_for_user(request.user, credential_id=self.credential.pk)
        body: dict[str, Any] = {
            "credential": self._output(fresh),
            "restored_from": done.restored_from,
            "secret_version": done.version.number,
            "hosts_restored": done.hosts_restored,
            "message": done.message,
        }
        # The credential is already rendered (as the detail endpoint renders it): RollbackOutput is its schema.
        return Response(body, headers={"ETag": etag(fresh.version)})

    @extend_schema(
        summary="Destroy a version: its ciphertext wiped for good, the row kept (who, when)",
        description="The owner's or an administrator's (*delete*). The current version cannot be destroyed (400).",
        parameters=[ID_PARAMETER, _NUMBER],
        request=None,
        responses={
            204: OpenApiResponse(description="Destroyed."),
            **errors_for(400, 401, 403, 404),
        },
    )
    def destroy(self, request: Request, pk: str, number: str) -> Response:
        if not user_can(request.user, DELETE, self.credential):
            raise CredentialPermissionDenied("Only the owner or an administrator may destroy a version.")
        credential_version_destroy(
            actor=signed_in(request.user),
            credential_id=self.credential.pk,
            number=_version_number(number),
            ip=client_ip(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
