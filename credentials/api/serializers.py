"""The API's shapes: strict input serializers, and output built straight from a selector's rows.

Output is written by hand from ``values()`` rows (the serializer classes below describe it for
OpenAPI): a list of 1,000 credentials would otherwise spend most of its time in per-field
serializer calls. Secret values are never part of any output; ``secrets_set`` says, for each
secret field of the type, whether a value is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from credentials.permissions import FLAGS, VIEW
from credentials.testers.runs import is_flagged
from credentials.type_cache import type_by_pk

# --- Input --------------------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """Text only: DRF's CharField would quietly turn 12 or true into "12" or "True"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only, not "yes" or 1."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=str(data)[:20])
        return data


class StrictInput(serializers.Serializer):
    """Refuses keys it does not know, so a misspelt attribute is an error rather than ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({str(key)[:64]: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


def _tags() -> serializers.ListField:
    return serializers.ListField(child=StrictCharField(max_length=50), max_length=20, required=False)


def _hosts() -> serializers.ListField:
    return serializers.ListField(child=StrictCharField(max_length=253), max_length=50, required=False)


class CredentialCreateInput(StrictInput):
    type = StrictCharField(max_length=64, help_text="A credential type's slug, from /api/credential-types/.")
    name = StrictCharField(max_length=200)
    fields = serializers.DictField(help_text="Values for the type's fields, secret ones included.")
    environment = StrictCharField(max_length=64, required=False)
    description = StrictCharField(max_length=10_000, required=False, allow_blank=True)
    tags = _tags()
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    team = StrictCharField(max_length=150, required=False, allow_null=True, help_text="A group's name.")
    allowed_hosts = _hosts()
    retest_daily = StrictBooleanField(required=False, help_text="Test it again every day and record the result.")


class CredentialUpdateInput(StrictInput):
    """PUT and PATCH. A secret field omitted, blank or sent as "********" keeps its stored value."""

    name = StrictCharField(max_length=200)
    environment = StrictCharField(max_length=64)
    fields = serializers.DictField()
    description = StrictCharField(max_length=10_000, required=False, allow_blank=True)
    tags = _tags()
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    team = StrictCharField(max_length=150, required=False, allow_null=True)
    allowed_hosts = _hosts()
    is_active = StrictBooleanField(required=False)
    retest_daily = StrictBooleanField(required=False, help_text="Test it again every day and record the result.")
    version = serializers.IntegerField(
        min_value=1, required=False, help_text="The version you read; or send it as If-Match."
    )


class ListFilters(serializers.Serializer):
    type = StrictCharField(max_length=64, required=False)
    environment = StrictCharField(max_length=64, required=False)
    tag = StrictCharField(max_length=50, required=False)
    search = StrictCharField(max_length=200, required=False)
    expiring_within = serializers.IntegerField(
        min_value=0, max_value=36_500, required=False, help_text="Days: credentials that expire within them."
    )


class ShareInput(StrictInput):
    user = StrictCharField(max_length=150, required=False, help_text="A username.")
    group = StrictCharField(max_length=150, required=False, help_text="A group's name.")
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=["use", "view", "change"]), min_length=1, max_length=3
    )


class UnshareFilters(serializers.Serializer):
    user = StrictCharField(max_length=150, required=False)
    group = StrictCharField(max_length=150, required=False)
    permissions = StrictCharField(
        max_length=30, required=False, help_text="Comma-separated; all of use, view and change when absent."
    )


class TokenInput(StrictInput):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


# --- Output (for the schema; the functions below build it) -----------------------------------------


class CredentialOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    type = serializers.CharField(help_text="The type's slug.")
    type_name = serializers.CharField()
    environment = serializers.CharField()
    owner = serializers.CharField(help_text="The owner's username.")
    team = serializers.CharField(allow_null=True)
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    is_active = serializers.BooleanField()
    expires_at = serializers.DateTimeField(allow_null=True)
    is_expired = serializers.BooleanField()
    allowed_hosts = serializers.ListField(child=serializers.CharField())
    fields = serializers.DictField(allow_null=True, help_text="Non-secret field values; null without *view*.")
    secrets_set = serializers.DictField(
        child=serializers.BooleanField(), allow_null=True, help_text="Whether each secret field holds a value."
    )
    metadata = serializers.DictField(allow_null=True, help_text="Derived facts, such as an SSH key's fingerprint.")
    test_status = serializers.CharField()
    last_tested = serializers.DateTimeField(allow_null=True)
    test_message = serializers.CharField(allow_null=True)
    test_failures = serializers.IntegerField(help_text="Failed tests in a row.")
    test_flagged = serializers.BooleanField(help_text="Failed CREDENTIAL_TEST_FLAG_AFTER tests or more in a row.")
    retest_daily = serializers.BooleanField(help_text="Tested again every day.")
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=["use", "view", "change", "delete", "share"]),
        help_text="What you may do with this credential.",
    )


class TestRequestOutput(serializers.Serializer):
    id = serializers.UUIDField()
    test_status = serializers.ChoiceField(choices=["running", "passed", "failed"])
    status_url = serializers.CharField(help_text="Poll it: test_status becomes passed or failed, with test_message.")


class ShareOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["user", "group"])
    id = serializers.IntegerField()
    name = serializers.CharField()
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=["use", "view", "change"]))


class UsageByService(serializers.Serializer):
    service = serializers.CharField()
    uses = serializers.IntegerField()
    last_used_at = serializers.DateTimeField()


class PluginUsage(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    repo_url = serializers.CharField()
    status = serializers.CharField()
    owner = serializers.CharField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="When a sync of it last used the secret.")
    visible = serializers.BooleanField(help_text="Whether you may open the plugin (its owner, a superuser).")


class UsageOutput(serializers.Serializer):
    last_used_at = serializers.DateTimeField(allow_null=True)
    by_service = UsageByService(many=True)
    plugins = PluginUsage(
        many=True, help_text="Plugins that clone with this credential; it cannot be deleted while there are any."
    )


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)


class FieldOption(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()


class FieldDefinition(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    type = serializers.ChoiceField(choices=["string", "number", "boolean", "options", "hidden"])
    input = serializers.ChoiceField(choices=["text", "password", "textarea"])
    secret = serializers.BooleanField()
    required = serializers.BooleanField()
    default = serializers.JSONField(required=False)
    placeholder = serializers.CharField(required=False)
    help = serializers.CharField(required=False)
    pattern = serializers.CharField(required=False)
    min = serializers.FloatField(required=False)
    max = serializers.FloatField(required=False)
    max_length = serializers.IntegerField(required=False)
    integer = serializers.BooleanField(required=False)
    options = FieldOption(many=True, required=False)
    show_if = serializers.DictField(child=serializers.ListField(), required=False)


class CredentialTypeOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()
    icon = serializers.CharField()
    description = serializers.CharField()
    is_system = serializers.BooleanField()
    fields = FieldDefinition(many=True)
    json_schema = serializers.DictField(help_text="The fields as a JSON Schema object.")


# --- Building the output -----------------------------------------------------------------------

# What a list reads of each row: no ciphertext, and the flags that say what the caller may do.
ROW_COLUMNS = (
    "id", "name", "type_id", "environment", "owner_id", "owner__username", "team__name", "description",
    "tags", "is_active", "expires_at", "allowed_hosts", "public_fields", "secrets_set", "metadata",
    "test_status", "last_tested", "test_message", "test_failures", "retest_daily", "version", "created_at",
    "updated_at", *FLAGS,
)  # fmt: skip


def credential_row_of(credential: Any) -> dict[str, Any]:
    """A model instance as the same mapping a list's ``values(*ROW_COLUMNS)`` gives."""
    row = {column: getattr(credential, column) for column in ROW_COLUMNS if "__" not in column and column not in FLAGS}
    row["owner__username"] = credential.owner.get_username()
    row["team__name"] = credential.team.name if credential.team_id else None
    return row


def credential_output(row: Mapping[str, Any], permissions: list[str], now: Any) -> dict[str, Any]:
    """One credential as the API shows it to a caller who may do ``permissions``."""
    type_row = type_by_pk(row["type_id"])
    may_view = VIEW in permissions
    stored = row["secrets_set"]
    expires_at = row["expires_at"]
    return {
        "id": row["id"],
        "name": row["name"],
        "type": type_row.slug,
        "type_name": type_row.name,
        "environment": row["environment"],
        "owner": row["owner__username"],
        "team": row["team__name"],
        "description": row["description"],
        "tags": row["tags"],
        "is_active": row["is_active"],
        "expires_at": expires_at,
        "is_expired": expires_at is not None and expires_at <= now,
        "allowed_hosts": row["allowed_hosts"],
        "fields": row["public_fields"] if may_view else None,
        "secrets_set": {name: name in stored for name in type_row.spec.secret_field_names} if may_view else None,
        "metadata": row["metadata"] if may_view else None,
        "test_status": row["test_status"],
        "last_tested": row["last_tested"],
        "test_message": row["test_message"] if may_view else None,
        "test_failures": row["test_failures"],
        "test_flagged": is_flagged(row["test_failures"]),
        "retest_daily": row["retest_daily"],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "permissions": permissions,
    }


def credential_type_output(type_row: Any) -> dict[str, Any]:
    from credentials.types.schema import json_schema

    spec = type_row.spec
    return {
        "slug": type_row.slug,
        "name": type_row.name,
        "category": type_row.category,
        "icon": type_row.icon,
        "description": type_row.description,
        "is_system": type_row.is_system,
        "fields": [field.as_dict() for field in spec.fields],
        "json_schema": json_schema(spec.fields),
    }
