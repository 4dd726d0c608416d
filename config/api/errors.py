"""One error body for the whole API: ``{"detail", "code"}``, plus ``errors`` by field for bad input.

Service exceptions map here, so that views stay thin: not found or hidden is 404, visible but
not allowed is 403, bad input is 400 with field-level messages, a stale version is 409 (or
412 when the client sent If-Match), an access request already decided or expired is 409, a
credential still used by plugins is 409 with ``used_by``, an unreachable task queue is 503.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import QueueUnavailable
from credentials.errors import (
    AccessRequestClosed,
    AccessRequestNotFound,
    CredentialInUse,
    CredentialNotFound,
    CredentialPermissionDenied,
    InvalidCredential,
    StaleVersion,
    VersionNotFound,
)
from notifications.errors import EndpointNotFound, InvalidNotificationInput, TestEventsThrottled
from plugins.errors import InvalidPlugin, PluginNotFound


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource changed since you read it."
    default_code = "conflict"


class InUse(Conflict):
    """A 409 whose body also lists what holds the resource (``used_by``)."""

    default_detail = "The resource is in use."
    default_code = "in_use"

    def __init__(self, detail: str, *, users: list[dict[str, str]]):
        super().__init__(detail)
        self.users = users


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource changed since you read it."
    default_code = "precondition_failed"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A service this request needs is unavailable; try again later."
    default_code = "unavailable"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The body is too large."
    default_code = "too_large"


class PreconditionRequired(exceptions.APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = "Send the version you read, as 'version' in the body or in an If-Match header."
    default_code = "precondition_required"


def _plain(detail: Any) -> Any:
    """ErrorDetail trees as plain JSON; the services' "__all__" becomes DRF's "non_field_errors"."""
    if isinstance(detail, dict):
        return {("non_field_errors" if key == "__all__" else str(key)): _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(item) for item in detail]
    return str(detail)


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(
        exc, CredentialNotFound | PluginNotFound | VersionNotFound | AccessRequestNotFound | EndpointNotFound
    ):
        return exceptions.NotFound(str(exc))
    if isinstance(exc, CredentialPermissionDenied):
        return exceptions.PermissionDenied(str(exc))
    if isinstance(exc, TestEventsThrottled):
        return exceptions.Throttled(wait=60, detail=exc.errors["endpoint"][0])
    if isinstance(exc, InvalidCredential | InvalidPlugin | InvalidNotificationInput):
        return exceptions.ValidationError(exc.as_dict())
    if isinstance(exc, StaleVersion | AccessRequestClosed):
        return Conflict(str(exc))
    if isinstance(exc, QueueUnavailable):
        return ServiceUnavailable(str(exc))
    if isinstance(exc, CredentialInUse):
        return InUse(str(exc), users=exc.users)
    if isinstance(exc, RequestDataTooBig):  # else Django's HTML 400, and an error logged
        return PayloadTooLarge(f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500, whose report hides every value
    if isinstance(exc, exceptions.ValidationError):
        errors = _plain(exc.detail)
        if not isinstance(errors, dict):
            errors = {"non_field_errors": errors}
        response.data = {"detail": "Invalid input.", "code": "invalid", "errors": errors}
    elif isinstance(exc, exceptions.APIException):  # every exception DRF answered, once converted above
        codes = exc.get_codes()
        response.data = {"detail": _plain(exc.detail), "code": codes if isinstance(codes, str) else exc.default_code}
        if isinstance(exc, InUse):
            response.data["used_by"] = exc.users
    return response
