"""An audit event as the API shows it: who did what, when, to which fields; never a value."""

from __future__ import annotations

from rest_framework import serializers

from audit.models import AuditAction


class AuditEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    action = serializers.ChoiceField(choices=AuditAction.choices)
    actor = serializers.CharField(source="actor_repr", help_text="Username and id, kept as text.")
    credential = serializers.CharField(source="credential_ref", help_text="The credential's id, kept as text.")
    credential_name = serializers.CharField()
    ip = serializers.CharField(allow_null=True)
    service = serializers.CharField()
    # An API field named like Serializer.fields: DRF's metaclass takes it off the class, as the stubs cannot know.
    fields = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]
    details = serializers.DictField()
    mac = serializers.CharField(help_text="The event's HMAC-SHA256 under the audit key (verify_audit_chain checks it).")
