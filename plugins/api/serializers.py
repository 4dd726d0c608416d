"""The plugins API's shapes: a strict input for registration and changes, and the output of a plugin."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from config.api.inputs import StrictCharField, StrictInput
from plugins.models import Plugin, PluginStatus


class _CredentialChoice(StrictInput):
    credential = serializers.UUIDField(
        required=False, allow_null=True, help_text="The credential's id; or name it with the two fields below."
    )
    credential_name = StrictCharField(required=False, max_length=200)
    credential_environment = StrictCharField(required=False, max_length=64, help_text="Default production.")


class PluginCreateInput(_CredentialChoice):
    name = StrictCharField(max_length=200)
    repo_url = StrictCharField(
        max_length=2000, help_text="https://host/path, ssh://[user@]host[:port]/path or user@host:path."
    )
    ref = StrictCharField(
        required=False, allow_blank=True, max_length=255, help_text="Branch, tag or commit; empty for the default."
    )


class PluginUpdateInput(_CredentialChoice):
    name = StrictCharField(required=False, max_length=200)
    ref = StrictCharField(required=False, allow_blank=True, max_length=255)


class PluginCredentialOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    environment = serializers.CharField()


class PluginOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    repo_url = serializers.CharField()
    ref = serializers.CharField()
    credential = PluginCredentialOutput(allow_null=True)
    owner = serializers.CharField(source="owner.get_username")
    status = serializers.ChoiceField(choices=PluginStatus.choices)
    commit = serializers.CharField(help_text="The commit checked out, once installed.")
    last_error = serializers.CharField(help_text="Why the last sync failed (redacted).")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    last_synced_at = serializers.DateTimeField(allow_null=True)
    credential_used_at = serializers.DateTimeField(allow_null=True)
    status_url = serializers.SerializerMethodField()

    def get_status_url(self, plugin: Plugin) -> str:
        return reverse("plugin-detail", kwargs={"pk": plugin.pk})


def credential_choice(data: dict[str, Any]) -> dict[str, Any]:
    """The services' keywords for the credential named in ``data``, if it names one."""
    choice: dict[str, Any] = {}
    if "credential" in data:
        choice["credential_id"] = data["credential"]
    if "credential_name" in data:
        choice["credential_name"] = data["credential_name"]
        choice["environment"] = data.get("credential_environment") or "production"
    return choice
