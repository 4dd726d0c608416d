"""The Django admin for the audit trail: read-only, for staff allowed to view it."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEvent
from config.admin_readonly import NoWrites


# Not even superusers add, change or delete an event: a changed or removed one would break its MAC and the chain.
@admin.register(AuditEvent)
class AuditEventAdmin(NoWrites, admin.ModelAdmin):
    """Events are written only by audit.services; here they can be read and nothing else."""

    list_display = ("created_at", "action", "actor_name", "credential_label", "service", "ip")
    list_filter = ("action", "created_at")
    search_fields = ("credential_name", "credential_ref", "actor_repr")
    fields = (
        "created_at",
        "action",
        "actor",
        "actor_repr",
        "credential",
        "credential_ref",
        "credential_name",
        "ip",
        "service",
        "fields",
        "details",
        "uid",
        "body",
        "mac",
        "key_id",
    )
    actions = None
    # The trail only grows: counting every row for each page would get slower with it.
    show_full_result_count = False

    # Columns named for people: the labels the model's fields would give ("actor repr") are not.
    @admin.display(description="Actor", ordering="actor_repr")
    def actor_name(self, event: AuditEvent) -> str:
        return event.actor_repr

    @admin.display(description="Credential", ordering="credential_name")
    def credential_label(self, event: AuditEvent) -> str:
        return event.credential_name or "—"

    def has_view_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        user = request.user
        return user.is_active and user.is_staff and user.has_perm("audit.view_auditevent")
