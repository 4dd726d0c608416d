"""The audit trail: append-only events, each MACed, linked into a keyed chain, outliving what they describe."""

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
    MANAGER_APPOINTED = "manager_appointed", "Team manager appointed"
    MANAGER_REMOVED = "manager_removed", "Team manager removed"
    TOKEN_CREATED = "token_created", "API token created"
    TOKEN_REVOKED = "token_revoked", "API token revoked"
    ROLLED_BACK = "rolled_back", "Rolled back to an earlier version"
    VERSION_DESTROYED = "version_destroyed", "Version destroyed"
    SHARE_CHANGED = "share_changed", "Share's end changed"
    SHARE_EXPIRED = "share_expired", "Share ended"
    REQUESTABLE_CHANGED = "requestable_changed", "Who may request access changed"
    ACCESS_REQUESTED = "access_requested", "Access requested"
    ACCESS_REQUEST_APPROVED = "access_request_approved", "Access request approved"
    ACCESS_REQUEST_DENIED = "access_request_denied", "Access request denied"
    ACCESS_REQUEST_CANCELLED = "access_request_cancelled", "Access request cancelled"
    ACCESS_REQUEST_EXPIRED = "access_request_expired", "Access request expired unanswered"
    WEBHOOK_CREATED = "webhook_created", "Webhook endpoint created"
    WEBHOOK_CHANGED = "webhook_changed", "Webhook endpoint changed"
    WEBHOOK_DELETED = "webhook_deleted", "Webhook endpoint deleted"


class AuditEvent(models.Model):
    """One thing that happened. Rows are written once by audit.services and never changed.

    ``body`` is the canonical JSON of what happened (audit.content) and ``mac`` its HMAC under
    the audit key ``key_id``: each event is protected on its own from the moment it is written,
    and appending one waits on no other. The sealer then links committed events into a keyed
    chain (AuditLink). ``credential`` is a convenience link that becomes NULL when the credential
    is deleted; ``credential_ref`` and ``credential_name`` keep the history, and only they are in
    the body.
    """

    uid = models.UUIDField(unique=True, editable=False, help_text="In the MAC: a copied event is refused.")
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
    body = models.TextField(editable=False)
    mac = models.CharField(max_length=64, editable=False)
    key_id = models.CharField(max_length=16, editable=False)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.credential_name or self.credential_ref}"


class AuditLink(models.Model):
    """An event's place in the chain: ``chain_mac`` covers the link before it, its place and the event's MAC.

    Written by the sealer (audit.sealing) in the order events became visible, never by an append;
    append-only like the events. A removed, reordered or altered link or event breaks the chain
    from there on, and checkpoints kept outside the database pin it against being rebuilt.
    """

    seq = models.BigIntegerField(primary_key=True)
    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, related_name="link")
    event_mac = models.CharField(max_length=64)
    chain_mac = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16)
    linked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"link {self.seq} to event {self.event_id}"


class AuditSealer(models.Model):
    """Where the sealer may resume (one row): on PostgreSQL, the oldest transaction its last pass could not see.

    Progress only, not protection: a value set too high leaves events unlinked, which
    verification reports once they are older than AUDIT_LINK_MAX_AGE.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    resume_txid = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"sealer resuming at transaction {self.resume_txid}"
