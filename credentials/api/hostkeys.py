"""/api/ssh/host-keys/: the host keys an SSH server offers, for the user to pin those they confirm; presets.

Nothing here is stored or pinned: the caller puts the lines it confirms into an ``ssh_key`` credential's
``host_keys``. The fetch connects out (through the outbound policy, never authenticating), so it is
rate-limited per user (``HOST_KEY_FETCH_RATE_LIMIT``).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.actors import signed_in
from config.api.inputs import StrictCharField, StrictInput
from config.api.schema import errors_for
from config.api.throttling import ScopedRateThrottle
from credentials.hostkeys import MAX_HOST_LENGTH, PRESETS, HostKeyFetchFailed, fetch_host_keys


class HostKeysInput(StrictInput):
    host = StrictCharField(max_length=MAX_HOST_LENGTH, help_text="The SSH server's name or IP address.")
    port = serializers.IntegerField(min_value=1, max_value=65535, default=22)


class HostKeyOutput(serializers.Serializer):
    line = serializers.CharField(help_text="The key in known_hosts form: host (or [host]:port), type, base64.")
    type = serializers.CharField(source="key_type", help_text="The key's type, such as ssh-ed25519.")
    fingerprint = serializers.CharField(help_text="SHA256:base64, as ssh-keygen -lf prints it.")


class HostKeysOutput(serializers.Serializer):
    keys = HostKeyOutput(many=True)


class HostKeyPresetOutput(serializers.Serializer):
    host = serializers.CharField()
    documentation = serializers.CharField(source="source", help_text="Where the host publishes these keys.")
    keys = HostKeyOutput(many=True)


class HostKeysView(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "ssh_host_keys"

    @extend_schema(
        summary="The host keys an SSH server offers, each with its fingerprint (nothing is pinned)",
        description="One handshake per key type, to the address the outbound policy allows; no authentication, "
        "no secret sent. 400 on host when the address is refused or no SSH server answers there.",
        request=HostKeysInput,
        responses={200: HostKeysOutput, **errors_for(400, 401, 413, 415, 429)},
    )
    def post(self, request: Request) -> Response:
        payload = HostKeysInput(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            keys = fetch_host_keys(actor=signed_in(request.user), **payload.validated_data)
        except HostKeyFetchFailed as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        return Response(HostKeysOutput({"keys": keys}).data)


class HostKeyPresetsView(APIView):
    @extend_schema(
        summary="The published host keys of github.com and gitlab.com",
        responses={200: HostKeyPresetOutput(many=True), **errors_for(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(HostKeyPresetOutput(PRESETS, many=True).data)
