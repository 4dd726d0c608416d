"""Plugins: git repositories registered by a user, cloned with a credential the user may use."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

# The service named on the credential's audit trail for everything plugins do with it.
AUDIT_SERVICE = "plugins"


class PluginStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CLONING = "cloning", "Cloning"
    INSTALLED = "installed", "Installed"
    FAILED = "failed", "Failed"


class Plugin(models.Model):
    """A repository checked out under ``PLUGINS_ROOT/<id>/``; its credential is never stored here."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    repo_url = models.CharField(max_length=2000)
    ref = models.CharField(max_length=255, blank=True, help_text="Branch, tag or commit; empty for the default branch.")
    # PROTECT: a credential in use cannot be deleted until its plugins go or move to another one.
    credential = models.ForeignKey(
        "credentials.Credential", null=True, blank=True, on_delete=models.PROTECT, related_name="plugins"
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="plugins")
    status = models.CharField(max_length=16, choices=PluginStatus.choices, default=PluginStatus.PENDING)
    commit = models.CharField(max_length=40, blank=True)
    path = models.CharField(max_length=1000, blank=True, help_text="Where the checkout is, once installed.")
    last_error = models.TextField(blank=True, help_text="Redacted.")
    # The sync in progress: a message delivered twice finds its run over and does nothing, and the
    # sweeps fail a run whose worker died (plugins.syncing).
    run = models.UUIDField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    credential_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When a sync last used the credential."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "owner", models.functions.Lower("name"), name="plugin_unique_name_per_owner",
                violation_error_message="You already have a plugin with this name.",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.name

    @property
    def audit_details(self) -> dict[str, str]:
        """What the credential's audit events say about the plugin (never a secret)."""
        return {"plugin": str(self.pk), "plugin_name": self.name, "repo_url": self.repo_url}

    @property
    def is_busy(self) -> bool:
        return self.status in (PluginStatus.PENDING, PluginStatus.CLONING)
