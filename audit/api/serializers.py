"""An audit event as the API shows it: who did what, when, to which fields; never a value."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from audit.models import AuditAction, AuditEvent


class AuditEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    action = serializers.ChoiceField(choices=AuditAction.choices)
    actor = serializers.CharField(help_text="Username and id, kept as text.")
    credential = serializers.CharField(help_text="The credential's id, kept as text.")
    credential_name = serializers.CharField()
    ip = serializers.CharField(allow_null=True)
    service = serializers.CharField()
    fields = serializers.ListField(child=serializers.CharField())
    details = serializers.DictField()
    mac = serializers.CharField(help_text="The event's HMAC-SHA256 under the audit key (verify_audit_chain checks it).")


def audit_event_output(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "created_at": event.created_at,
        "action": event.action,
        "actor": event.actor_repr,
        "credential": event.credential_ref,
        "credential_name": event.credential_name,
        "ip": event.ip,
        "service": event.service,
        "fields": event.fields,
        "details": event.details,
        "mac": event.mac,
    }
