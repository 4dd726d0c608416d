"""``POST /api/auth/token/``: a token for a username and password, rate-limited and locked out on failures.

Tokens are django-rest-knox's: only a hash is stored, each expires (``API_TOKEN_TTL_HOURS``),
and each can be revoked alone. Failed attempts count towards django-axes's lockout, shared
with the admin's and the site's login forms.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema
from knox.models import get_token_model
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.authentication import delete_expired_tokens
from config.api.inputs import StrictCharField, StrictInput
from config.api.schema import errors_for
from config.api.throttling import ScopedRateThrottle
from config.lockout import lockout_response


class TokenInput(StrictInput):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class ObtainTokenView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth_token"

    @extend_schema(
        summary="A token for a username and password",
        request=TokenInput,
        responses={200: TokenOutput, **errors_for(400, 413, 415, 429)},
        auth=[],
    )
    def post(self, request: Request) -> Response | HttpResponse:  # the lockout's answer is a plain JsonResponse
        payload = TokenInput(data=request.data)
        payload.is_valid(raise_exception=True)
        django_request = request._request  # axes reads the address and records the attempt on it
        user = authenticate(
            django_request, username=payload.validated_data["username"], password=payload.validated_data["password"]
        )
        if getattr(django_request, "axes_locked_out", False):
            return lockout_response(django_request)
        if user is None or not user.is_active:
            raise ValidationError({"non_field_errors": ["Unable to log in with the username and password given."]})
        delete_expired_tokens(user)
        instance, token = get_token_model().objects.create(user=user)
        return Response(TokenOutput({"token": token, "expiry": instance.expiry}).data)
