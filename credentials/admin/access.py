"""Access requests in the admin: read-only for everyone; superusers approve or deny through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from config.actors import signed_in
from config.addresses import client_ip
from config.admin_readonly import NoWrites
from credentials.access.services import access_request_approve, access_request_deny
from credentials.errors import (
    AccessRequestClosed,
    AccessRequestNotFound,
    CredentialPermissionDenied,
    InvalidCredential,
)
from credentials.models import AccessRequest

# An admin action has no form of its own; the requester reads this, and the audit event keeps who denied.
ADMIN_DENIAL = "Denied by an administrator from the admin."


@admin.register(AccessRequest)
class AccessRequestAdmin(NoWrites, admin.ModelAdmin):
    list_display = ("credential", "requester", "permission", "hours", "status", "created_at", "answer_by", "decided_by")
    list_filter = ("status", "permission", "created_at", "answer_by")
    search_fields = ("credential__name", "requester__username", "reason")
    list_select_related = ("credential", "requester", "decided_by")
    actions = ["approve_selected", "deny_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj: AccessRequest | None = None) -> list[str]:
        return [field.name for field in AccessRequest._meta.fields]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Deciding is the services' to allow, request by request; the actions are offered to superusers only.
        return super().get_actions(request) if request.user.is_superuser else {}

    @admin.action(description="Approve selected access requests")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[AccessRequest]) -> None:
        for access_request in queryset.select_related("credential", "requester"):
            self._decide(request, access_request, "approved", access_request_approve)

    @admin.action(description="Deny selected access requests (reason: “denied by an administrator”)")
    def deny_selected(self, request: HttpRequest, queryset: QuerySet[AccessRequest]) -> None:
        for access_request in queryset.select_related("credential", "requester"):
            self._decide(request, access_request, "denied", access_request_deny, reason=ADMIN_DENIAL)

    def _decide(self, request: HttpRequest, access_request: AccessRequest, done: str, act: Any, **more: Any) -> None:
        label = f"{access_request.requester.get_username()}'s request for {access_request.credential.name}"
        try:
            decided = act(actor=signed_in(request.user), request_id=access_request.pk, ip=client_ip(request), **more)
        except (AccessRequestClosed, AccessRequestNotFound, CredentialPermissionDenied) as exc:
            self.message_user(request, f"{label}: not {done}: {exc}", messages.ERROR)
        except InvalidCredential as exc:
            said = " ".join(m for problems in exc.errors.values() for m in problems)
            self.message_user(request, f"{label}: not {done}: {said}", messages.ERROR)
        else:
            end = decided.grant_expires_at
            until = f", the grant ending {timezone.localtime(end):%Y-%m-%d %H:%M %Z}" if end else ""
            self.message_user(request, f"{label}: {done}{until}.", messages.SUCCESS)
