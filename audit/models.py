"""The audit trail: append-only events, chained by hash, that outlive what they describe."""

from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    DEACTIVATED = "deactivated", "Deactivated"
    DELETED = "deleted", "Deleted"
    ACCESSED = "accessed", "Accessed"
    ACCESS_DENIED = "access_denied", "Access denied"
    ACCESS_FAILED = "access_failed", "Access failed"
    TESTED = "tested", "Tested"
    SHARED = "shared", "Shared"
    UNSHARED = "unshared", "Unshared"
    ROTATED = "rotated", "Rotated"
    EXPORTED = "exported", "Exported"
    IMPORTED = "imported", "Imported"
    PLUGIN_LINKED = "plugin_linked", "Linked to a plugin"
    PLUGIN_UNLINKED = "plugin_unlinked", "Unlinked from a plugin"


class AuditEvent(models.Model):
    """One thing that happened. Rows are written once by audit.services and never changed.

    ``credential`` is a convenience link that becomes NULL when the credential is deleted;
    ``credential_ref`` and ``credential_name`` keep the history, and only they are hashed.
    """

    created_at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_repr = models.CharField(max_length=200, blank=True)
    credential = models.ForeignKey(
        "credentials.Credential",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    credential_ref = models.CharField(max_length=36, blank=True, db_index=True)
    credential_name = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    service = models.CharField(max_length=100, blank=True)
    fields = models.JSONField(default=list, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.credential_name or self.credential_ref}"


class AuditChainHead(models.Model):
    """The newest event's hash: one row, locked by each append, so appends form one chain.

    It also lets verification notice when the newest events were removed, which a chain
    alone cannot show.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    hash = models.CharField(max_length=64)
    last_event_id = models.BigIntegerField(null=True)

    def __str__(self) -> str:
        return f"head at event {self.last_event_id}"
