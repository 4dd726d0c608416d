"""The credentials API's shapes: strict input serializers, and the output serializers that render each answer.

One answer is built by hand beside its serializer: a row of the credential list (``credential_list_row``;
its comment says why). Secret values are never part of any output; ``secrets_set`` says, for each
secret field of the type, whether a value is stored.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api.inputs import StrictBooleanField, StrictCharField, StrictInput, StrictSlugRelatedField
from credentials.models import Credential
from credentials.permissions import FLAGS, VIEW
from credentials.testers.runs import is_flagged
from credentials.type_cache import type_of_credential
from credentials.types.schema import json_schema

# --- Input --------------------------------------------------------------------------------------


def _team() -> StrictSlugRelatedField:
    # An unknown name gets the words of a team the caller is not in (credentials.validation.check_team).
    return StrictSlugRelatedField(
        slug_field="name",
        queryset=Group.objects.all(),
        max_length=150,
        required=False,
        allow_null=True,
        help_text="A group's name.",
        error_messages={"does_not_exist": "You can only give a credential to a team you belong to."},
    )


def user_field(**kwargs: Any) -> StrictSlugRelatedField:
    return StrictSlugRelatedField(
        slug_field=get_user_model().USERNAME_FIELD,
        queryset=get_user_model().objects.filter(is_active=True),
        max_length=150,
        required=False,
        error_messages={"does_not_exist": "No active user has this username."},
        **kwargs,
    )


def group_field(**kwargs: Any) -> StrictSlugRelatedField:
    return StrictSlugRelatedField(
        slug_field="name",
        queryset=Group.objects.all(),
        max_length=150,
        required=False,
        error_messages={"does_not_exist": "No group has this name."},
        **kwargs,
    )


def _one_grantee(data: Mapping[str, Any]) -> Mapping[str, Any]:
    if ("user" in data) == ("group" in data):
        raise serializers.ValidationError("Name exactly one user or one group.")
    return data


def _tags() -> serializers.ListField:
    return serializers.ListField(child=StrictCharField(max_length=50), max_length=20, required=False)


def _hosts() -> serializers.ListField:
    return serializers.ListField(child=StrictCharField(max_length=253), max_length=50, required=False)


def _keep_versions() -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Keep at most this many versions of the secret (1 to CREDENTIAL_MAX_VERSIONS); null: the setting. "
        "Lowering it deletes the oldest at once, so only the owner or an administrator may change it.",
    )


class CredentialCreateInput(StrictInput):
    type = StrictCharField(max_length=64, help_text="A credential type's slug, from /api/credential-types/.")
    name = StrictCharField(max_length=200)
    # Declared fields named like a Serializer attribute (here and below) are the API's: DRF's metaclass
    # takes them off the class, so the attribute stays DRF's; the stubs cannot know that.
    fields = serializers.DictField(help_text="Values for the type's fields, secret ones included.")  # type: ignore[assignment]
    environment = StrictCharField(max_length=64, required=False)
    description = StrictCharField(max_length=10_000, required=False, allow_blank=True)
    tags = _tags()
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    team = _team()
    allowed_hosts = _hosts()
    retest_daily = StrictBooleanField(required=False, help_text="Test it again every day and record the result.")
    keep_versions = _keep_versions()


class CredentialUpdateInput(StrictInput):
    """PUT and PATCH. A secret field omitted, blank or sent as "********" keeps its stored value."""

    name = StrictCharField(max_length=200)
    environment = StrictCharField(max_length=64)
    fields = serializers.DictField()  # type: ignore[assignment]
    description = StrictCharField(max_length=10_000, required=False, allow_blank=True)
    tags = _tags()
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    team = _team()
    allowed_hosts = _hosts()
    is_active = StrictBooleanField(required=False)
    retest_daily = StrictBooleanField(required=False, help_text="Test it again every day and record the result.")
    keep_versions = _keep_versions()
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


class AwareDateTimeField(serializers.DateTimeField):
    """A time with its offset only: a share ends on an exact second, which a bare time leaves to the server's zone."""

    default_error_messages = {"naive": "Give the time zone too, such as 2026-12-01T17:00:00Z or +02:00."}

    def enforce_timezone(self, value: datetime.datetime) -> datetime.datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


class ShareInput(StrictInput):
    user = user_field(help_text="A username.")
    group = group_field(help_text="A group's name.")
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=["use", "view", "change"]), min_length=1, max_length=3
    )
    expires_at = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text="When these permissions end (ISO 8601 with a time zone, in the future); null or absent: no end. "
        "Sharing again with another end extends or shortens it.",
    )

    def validate(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        return _one_grantee(data)


class UnshareFilters(serializers.Serializer):
    user = user_field()
    group = group_field()
    permissions = StrictCharField(
        max_length=30, required=False, help_text="Comma-separated; all of use, view and change when absent."
    )

    def validate_permissions(self, text: str) -> list[str]:
        # Only split here: which names may be taken back is the sharing service's answer, as for a body.
        names = [name.strip() for name in text.split(",")]
        if not all(names):
            raise serializers.ValidationError("Name permissions separated by commas, such as use,view.")
        return names

    def validate(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        return _one_grantee(data)


# --- Output -------------------------------------------------------------------------------------


# One credential as its caller sees it: context["permissions"] is what the caller may do with it
# (permissions.actions_for). A comment, not a docstring: drf-spectacular would publish a docstring.
class CredentialOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    type = serializers.CharField(source="type.slug", help_text="The type's slug.")
    type_name = serializers.CharField(source="type.name")
    environment = serializers.CharField()
    owner = serializers.CharField(source="owner.get_username", help_text="The owner's username.")
    team = serializers.CharField(source="team.name", allow_null=True)
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    is_active = serializers.BooleanField()
    expires_at = serializers.DateTimeField(allow_null=True)
    is_expired = serializers.BooleanField()
    allowed_hosts = serializers.ListField(child=serializers.CharField())
    # Shown only to a caller who may view the credential (null otherwise): fields, secrets_set, metadata
    # and test_message. (The first one's method cannot be get_fields: that is the serializer's own.)
    fields = serializers.SerializerMethodField(  # type: ignore[assignment]
        method_name="get_public_fields", help_text="Non-secret field values; null without *view*."
    )
    secrets_set = serializers.SerializerMethodField(help_text="Whether each secret field holds a value.")
    metadata = serializers.SerializerMethodField(help_text="Derived facts, such as an SSH key's fingerprint.")
    test_status = serializers.CharField()
    last_tested = serializers.DateTimeField(allow_null=True)
    test_message = serializers.SerializerMethodField()
    test_failures = serializers.IntegerField(help_text="Failed tests in a row.")
    test_flagged = serializers.SerializerMethodField(
        help_text="Failed CREDENTIAL_TEST_FLAG_AFTER tests or more in a row."
    )
    retest_daily = serializers.BooleanField(help_text="Tested again every day.")
    secret_version = serializers.IntegerField(help_text="The number of the current version of its secret.")
    keep_versions = serializers.IntegerField(
        allow_null=True, help_text="How many versions it keeps, when fewer than CREDENTIAL_MAX_VERSIONS."
    )
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    permissions = serializers.SerializerMethodField(help_text="What you may do with this credential.")

    def _permissions(self) -> list[str]:
        if "permissions" not in self.context:
            raise TypeError("CredentialOutput needs context={'permissions': actions_for(user, credential)}.")
        return self.context["permissions"]

    def _may_view(self) -> bool:
        return VIEW in self._permissions()

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_public_fields(self, credential: Credential) -> dict[str, Any] | None:
        return credential.public_fields if self._may_view() else None

    @extend_schema_field(serializers.DictField(child=serializers.BooleanField(), allow_null=True))
    def get_secrets_set(self, credential: Credential) -> dict[str, bool] | None:
        if not self._may_view():
            return None
        return {name: name in credential.secrets_set for name in credential.type.spec.secret_field_names}

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_metadata(self, credential: Credential) -> dict[str, Any] | None:
        return credential.metadata if self._may_view() else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_test_message(self, credential: Credential) -> str | None:
        return credential.test_message if self._may_view() else None

    def get_test_flagged(self, credential: Credential) -> bool:
        return is_flagged(credential.test_failures)

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=["use", "view", "change", "delete", "share"]))
    )
    def get_permissions(self, credential: Credential) -> list[str]:
        return list(self._permissions())


class TestRequestOutput(serializers.Serializer):
    __test__ = False  # not a pytest test class, whatever its name

    id = serializers.UUIDField()
    test_status = serializers.ChoiceField(choices=["running", "passed", "failed"])
    status_url = serializers.SerializerMethodField(
        help_text="Poll it: test_status becomes passed or failed, with test_message."
    )

    def get_status_url(self, credential: Credential) -> str:
        return reverse("credential-detail", kwargs={"pk": credential.pk})


class ShareOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["user", "group"])
    id = serializers.IntegerField()
    name = serializers.CharField()
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=["use", "view", "change"]))
    expires_at = serializers.DictField(
        child=serializers.DateTimeField(allow_null=True),
        help_text="Each permission's end, or null for none.",
    )


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


class _Number(serializers.FloatField):
    """A number as the schema holds it: FloatField would show a port's minimum 1 as 1.0."""

    def to_representation(self, value: Any) -> Any:
        return value


class FieldOption(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]


class FieldDefinition(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    type = serializers.ChoiceField(choices=["string", "number", "boolean", "options", "hidden"])
    input = serializers.ChoiceField(choices=["text", "password", "textarea"])
    secret = serializers.BooleanField()
    required = serializers.BooleanField()  # type: ignore[assignment]
    default = serializers.JSONField(required=False)
    placeholder = serializers.CharField(required=False)
    help = serializers.CharField(required=False)
    pattern = serializers.CharField(required=False)
    min = _Number(required=False)
    max = _Number(required=False)
    max_length = serializers.IntegerField(required=False)
    integer = serializers.BooleanField(required=False)
    options = FieldOption(many=True, required=False)
    show_if = serializers.DictField(child=serializers.ListField(), required=False)

    def to_representation(self, field: Any) -> dict[str, Any]:
        # A schema field says only what is set (as_dict leaves out the rest): a key absent there is absent here.
        return super().to_representation(field.as_dict())


class CredentialTypeOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()
    icon = serializers.CharField()
    description = serializers.CharField()
    is_system = serializers.BooleanField()
    fields = FieldDefinition(many=True, source="spec.fields")  # type: ignore[assignment]
    json_schema = serializers.SerializerMethodField(help_text="The fields as a JSON Schema object.")

    @extend_schema_field(serializers.DictField())
    def get_json_schema(self, type_row: Any) -> dict[str, Any]:
        return json_schema(type_row.spec.fields)


# --- The list's rows, built by hand ----------------------------------------------------------------
# GET /api/credentials/ builds each row here from a values() row rather than through CredentialOutput,
# for `make bench`'s "list 100 (API)" figure: its goal is at most 2.5 times its floor (reading the same
# rows and dumping them as JSON) and it stands at about 2.4, just within it. Measured on 100 rows, the
# floor takes some 3.5 ms; CredentialOutput(many=True) some 6 ms more (some 25 field calls a row), these
# rows 0.2 ms. The list only: every other answer is its serializer's data. tests/api/test_output.py holds
# a list row and the detail of the same credential to the same keys and values, so they cannot drift.

# What a list reads of each row: no ciphertext, and the flags that say what the caller may do.
ROW_COLUMNS = (
    "id", "name", "type_id", "environment", "owner_id", "owner__username", "team__name", "description",
    "tags", "is_active", "expires_at", "allowed_hosts", "public_fields", "secrets_set", "metadata",
    "test_status", "last_tested", "test_message", "test_failures", "retest_daily", "secret_version",
    "keep_versions", "version", "created_at", "updated_at", *FLAGS,
)  # fmt: skip


def credential_list_row(row: Mapping[str, Any], permissions: list[str], now: Any) -> dict[str, Any]:
    """A ``values(*ROW_COLUMNS)`` row as CredentialOutput shows it to a caller who may do ``permissions``."""
    type_row = type_of_credential(row["type_id"])
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
        "secret_version": row["secret_version"],
        "keep_versions": row["keep_versions"],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "permissions": permissions,
    }
