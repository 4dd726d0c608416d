"""Credential types as stored, and credentials: metadata in clear, secrets as bound ciphertext."""

from __future__ import annotations

import uuid
from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from credentials import types


class CredentialType(models.Model):
    """A row per type: system types mirror the registry; custom ones are defined by staff."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=64, default="other")
    icon = models.CharField(max_length=64, default="key")
    description = models.TextField(blank=True)
    schema = models.JSONField(default=list, help_text="A list of field definitions.")
    test_spec = models.JSONField(default=dict, blank=True, help_text="How to test a custom type (HTTP).")
    # Every field name that was ever secret in this type's schema: such a field stays secret (save
    # refuses a schema that makes it plain), even after it was removed and added back.
    secret_history = models.JSONField(default=list, blank=True, editable=False)
    is_system = models.BooleanField(default=False, editable=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["category", "name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Refuse a schema that makes plain a field that was ever secret; remember its secret fields.

        Every path that saves the row (the admin, a service, the sync of built-in types after
        migrate) comes through here. One that writes the column around the model still gets a
        ``spec`` that keeps the remembered fields secret, and each sealed payload names its own.
        """
        types.check_secret_history(self.secret_history, self.schema)
        remembered = list(self.secret_history)
        remembered += [name for name in types.secret_names(self.schema) if name not in remembered]
        self.secret_history = remembered
        if kwargs.get("update_fields") is not None and "schema" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "secret_history"}
        super().save(*args, **kwargs)
        self.__dict__.pop("spec", None)

    @cached_property
    def spec(self) -> types.CredentialType:
        """The behaviour of this type: the registered class, or one built from the stored schema."""
        if self.is_system:
            return types.get_type(self.slug)
        return types.CustomCredentialType(
            slug=self.slug,
            name=self.name,
            category=self.category,
            icon=self.icon,
            description=self.description,
            schema=self.schema,
            secret_history=self.secret_history,
            test_spec=self.test_spec,
        )


class CredentialTestStatus(models.TextChoices):
    NEVER = "", "Never tested"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class Credential(models.Model):
    """One stored credential. Only ``ciphertext`` holds secrets; every other column is safe to show."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    type = models.ForeignKey(CredentialType, on_delete=models.PROTECT, related_name="credentials")
    environment = models.SlugField(max_length=64, default="production")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credentials")
    team = models.ForeignKey(Group, null=True, blank=True, on_delete=models.PROTECT, related_name="credentials")
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    allowed_hosts = models.JSONField(default=list, blank=True)

    # Non-secret field values and derived facts (an SSH key's fingerprint), for display without
    # decrypting; the authenticated payload repeats them, and the one door trusts only that.
    public_fields = models.JSONField(default=dict, blank=True)
    secrets_set = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    ciphertext = models.TextField(editable=False)
    key_id = models.CharField(max_length=16, db_index=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    # The number of the sealed payload in the row (its CredentialVersion), bound into the payload itself.
    secret_version = models.PositiveIntegerField(default=1, db_default=1, editable=False)
    keep_versions = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Keep at most this many versions of the secret (CREDENTIAL_MAX_VERSIONS when empty, or if fewer).",
    )
    # Who may find it in "Request access" and ask for time-bound use or view (credentials.access).
    requestable_by = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="Members may ask."
    )
    requestable_by_everyone = models.BooleanField(default=False, db_default=False)
    max_access_hours = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The longest grant a request may get (ACCESS_REQUEST_MAX_HOURS if less)."
    )

    last_tested = models.DateTimeField(null=True, blank=True, editable=False)
    test_status = models.CharField(max_length=16, choices=CredentialTestStatus.choices, blank=True, editable=False)
    test_message = models.TextField(blank=True, editable=False)
    # The run in progress: a message delivered twice finds its run over and does nothing, and the
    # sweep fails a run whose worker died (credentials.testers.runs).
    test_run = models.UUIDField(null=True, blank=True, editable=False)
    test_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    test_failures = models.PositiveIntegerField(
        default=0, db_default=0, editable=False, help_text="Failed tests in a row; reset by a pass."
    )
    # Database defaults too, so that rows inserted by plain SQL (bulk loads) get them.
    retest_daily = models.BooleanField(
        default=False, db_default=False, help_text="Test this credential again every day and record the result."
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "environment"]
        permissions = [("use_credential", "Can use the credential's secret in an operation")]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                "environment",
                "owner",
                condition=Q(is_active=True, team__isnull=True),
                name="credential_unique_name_per_owner",
                violation_error_message="You already have an active credential with this name in this environment.",
            ),
            models.UniqueConstraint(
                Lower("name"),
                "environment",
                "team",
                condition=Q(is_active=True, team__isnull=False),
                name="credential_unique_name_per_team",
                violation_error_message="The team already has an active credential with this name in this environment.",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "environment"]),
            models.Index(fields=["expires_at"]),
            # A list page orders every row the caller may see by name: with the sort keys beside the
            # id, PostgreSQL reads them from the index alone (a page of 1,000 visible rows: 3.7 ms of
            # database time without it, 2.5 with it, in `make bench`'s list figure).
            models.Index(fields=["id"], include=["name", "environment"], name="credential_page_order"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.environment})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


# --- Sharing: django-guardian's direct foreign-key permission models -----------------------------
# Direct keys, not guardian's generic tables: those store the object's id as text, and every
# list would cast it back, which is several times slower on a large table.


class VersionOrigin(models.TextChoices):
    CREATED = "created", "Created"
    CHANGED = "changed", "Changed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    IMPORTED = "imported", "Imported"
    RECORDED = "recorded", "Recorded when history began"


class CredentialVersion(models.Model):
    """One sealed payload a credential has had: its fields, secrets and allowed hosts, never shown.

    The newest is the payload in the credential's row (``number == credential.secret_version``);
    the payload is bound to its credential and number inside the token (credentials.keys.ring).
    Destroying one wipes its ciphertext and keeps the row, saying when and by whom.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    origin = models.CharField(max_length=16, choices=VersionOrigin.choices)
    restored_from = models.PositiveIntegerField(null=True, blank=True, help_text="The version a rollback restored.")
    changed_fields = models.JSONField(default=list, blank=True, help_text="Names only, never values.")
    ciphertext = models.TextField(blank=True)
    key_id = models.CharField(max_length=16, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # By the event's uid, known before either row is written: the two go to the database together.
    event = models.ForeignKey(
        "audit.AuditEvent", to_field="uid", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    destroyed_at = models.DateTimeField(null=True, blank=True)
    destroyed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["credential", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["credential", "number"], name="credential_version_number"),
        ]

    def __str__(self) -> str:
        return f"version {self.number}"

    @property
    def is_destroyed(self) -> bool:
        return self.destroyed_at is not None


class CredentialUserPermission(UserObjectPermissionBase):
    """A permission on one credential granted to one user."""

    content_object = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="user_grants")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Not honoured from this instant on.")
    ending_noticed = models.BooleanField(default=False, db_default=False, help_text="grant_ending was raised.")

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = "credential share with a user"
        indexes = [
            models.Index(fields=["expires_at"], condition=Q(expires_at__isnull=False), name="user_grant_expiry"),
        ]


class CredentialGroupPermission(GroupObjectPermissionBase):
    """A permission on one credential granted to every member of a group."""

    content_object = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="group_grants")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Not honoured from this instant on.")
    ending_noticed = models.BooleanField(default=False, db_default=False, help_text="grant_ending was raised.")

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = "credential share with a group"
        indexes = [
            models.Index(fields=["expires_at"], condition=Q(expires_at__isnull=False), name="group_grant_expiry"),
        ]


class TeamManagerPermission(UserObjectPermissionBase):
    """``auth.manage_team`` on a group: its holder may change and share the team's credentials."""

    content_object = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="manager_grants")

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = "team manager"


class AccessRequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class AccessRequest(models.Model):
    """A member's request for *use* or *view* of a discoverable credential, for some hours, with a reason."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="access_requests")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    permission = models.CharField(max_length=8, choices=[("use", "Use"), ("view", "View")])
    hours = models.PositiveSmallIntegerField()
    reason = models.TextField(max_length=1000)
    status = models.CharField(max_length=16, choices=AccessRequestStatus.choices, default=AccessRequestStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    answer_by = models.DateTimeField(help_text="Unanswered by then, it expires (ACCESS_REQUEST_TTL_HOURS).")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True, max_length=1000)
    grant_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["credential", "requester", "permission"],
                condition=Q(status="pending"),
                name="one_pending_request_per_permission",
                violation_error_message="You already asked for this; wait for the answer or cancel it.",
            ),
        ]
        indexes = [models.Index(fields=["status", "answer_by"], name="access_request_open")]

    def __str__(self) -> str:
        return f"{self.permission} of {self.credential_id} for {self.hours} h"


class ExpiryNotice(models.Model):
    """That a credential's expiry was announced at one stage, for one expiry time: each stage once (credentials.expiry).

    ``days`` is the stage: 30, 7 or 1 days before, or 0 once expired. Keyed by the expiry time, so
    that a credential given a new expiry is announced again for it, with nothing to reset.
    """

    # No database constraint: the one statement that writes notices reads the credential it writes for,
    # and Django cascades a deletion; a constraint checked per row made the sweep twice as slow
    # (`make bench`, expiry sweep). The unique key below leads with the credential: no index of its own.
    credential = models.ForeignKey(
        Credential, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    expires_at = models.DateTimeField()
    days = models.PositiveSmallIntegerField()
    # A sweep's notices, for its readers. No index: the table holds only notices of expiries within the
    # grace period (expiry.notices_prune), and every index is one more write for each notice the sweep makes.
    noticed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["credential", "expires_at", "days"], name="expiry_notice_once"),
        ]

    def __str__(self) -> str:
        return f"{self.credential_id} at {self.days} days"
