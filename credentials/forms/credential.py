"""Forms built from a credential type's field schema, for the admin and the site's own pages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator
from django.db.models import Q, QuerySet
from django.utils.html import escape
from django.views.decorators.debug import sensitive_variables

from config.actors import Actor
from credentials import types
from credentials.errors import (
    CredentialNotFound,
    CredentialPermissionDenied,
    CredentialUnavailable,
    InvalidCredential,
    StaleVersion,
)
from credentials.models import Credential
from credentials.services import credential_create, credential_update
from credentials.validation import check_attributes, clean_fields

# Schema fields live under a prefix so that a type's field called "name" or "tags" cannot
# collide with the credential's own attributes in the same form.
FIELD_PREFIX = "field__"
CLEAR_PREFIX = "clear__"

STORED_HELP = "Stored; leave blank to keep."
NOT_SET_HELP = "Not set."
ROUTE_HELP = "Decides where or how the secret is sent: changing it requires entering the secrets again."

_HOST_SEPARATORS = re.compile(r"[\s,]+")


# --- Widgets and fields -----------------------------------------------------------------------


class SecretInput(forms.PasswordInput):
    """A password input that never writes a value back into the page, even after an error."""

    def __init__(self, attrs: dict[str, Any] | None = None):
        super().__init__({"autocomplete": "new-password", **(attrs or {})}, render_value=False)


class SecretTextarea(forms.Textarea):
    """A textarea for a multi-line secret (a private key) that never writes its value back."""

    def __init__(self, attrs: dict[str, Any] | None = None):
        super().__init__({"autocomplete": "off", "spellcheck": "false", **(attrs or {})})

    def format_value(self, value: Any) -> None:
        return None


class MultiLineField(forms.CharField):
    """Text from a textarea: browsers send CRLF line ends, the stored value has LF."""

    def to_python(self, value: Any) -> str | None:
        text = super().to_python(value)
        return text.replace("\r\n", "\n") if text else text


class ListField(forms.Field):
    """A list of short strings typed as one text, split on ``separator``."""

    def __init__(self, *, separator: re.Pattern[str], joiner: str, **kwargs: Any):
        self.separator = separator
        self.joiner = joiner
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list | tuple):
            return [str(item) for item in value]
        return [item.strip() for item in self.separator.split(value or "") if item.strip()]

    def prepare_value(self, value: Any) -> Any:
        return self.joiner.join(value) if isinstance(value, list | tuple) else value


# --- One schema field --------------------------------------------------------------------------


def form_field_name(field_name: str) -> str:
    return FIELD_PREFIX + field_name


def _shown_fields(type_spec: types.CredentialType) -> list[types.Field]:
    # A hidden field is the type's constant: the validator fills in its default.
    return [spec for spec in type_spec.fields if spec.type != "hidden"]


def _clearable(spec: types.Field, credential: Credential | None) -> bool:
    """An optional secret that is stored can be cleared; a blank input would keep it."""
    return credential is not None and spec.secret and not spec.required and spec.name in credential.secrets_set


def schema_field_names(type_spec: types.CredentialType, credential: Credential | None = None) -> list[str]:
    """The form's names for the schema part, in schema order, for templates and fieldsets."""
    names: list[str] = []
    for spec in _shown_fields(type_spec):
        names.append(form_field_name(spec.name))
        if _clearable(spec, credential):
            names.append(CLEAR_PREFIX + spec.name)
    return names


def _base_field(spec: types.Field) -> forms.Field:
    if spec.type == "number":
        number = forms.IntegerField if spec.integer else forms.FloatField
        # IntegerField's bounds are typed int; a schema's are numbers, which it compares all the same.
        return number(min_value=spec.min, max_value=spec.max)  # type: ignore[arg-type]
    if spec.type == "boolean":
        return forms.BooleanField()
    if spec.type == "options":
        choices = [(option.value, option.label) for option in spec.options]
        if spec.default is None:
            choices.insert(0, ("", "---------"))
        return forms.ChoiceField(choices=choices)
    textarea = spec.input == "textarea"
    if spec.secret:
        # Spaces can be part of a password: keep them.
        widget: forms.Widget | type[forms.Widget] = SecretTextarea() if textarea else SecretInput()
        return (MultiLineField if textarea else forms.CharField)(
            strip=False, max_length=spec.effective_max_length, widget=widget
        )
    if textarea:
        return MultiLineField(max_length=spec.effective_max_length, widget=forms.Textarea)
    widget = forms.PasswordInput(render_value=True) if spec.input == "password" else forms.TextInput
    return forms.CharField(max_length=spec.effective_max_length, widget=widget)


def _condition_help(spec: types.Field, type_spec: types.CredentialType) -> str:
    parts = []
    for name, wanted in spec.show_if.items():
        label = next((f.label for f in type_spec.fields if f.name == name), name)
        parts.append(f"{label} is {' or '.join(json.dumps(v) if not isinstance(v, str) else v for v in wanted)}")
    return f"Only used when {' and '.join(parts)}."


def _help_text(spec: types.Field, type_spec: types.CredentialType, credential: Credential | None) -> str:
    parts = []
    if spec.secret and credential is not None:
        parts.append(STORED_HELP if spec.name in credential.secrets_set else NOT_SET_HELP)
    if spec.help:
        parts.append(spec.help)
    if spec.show_if:
        parts.append(_condition_help(spec, type_spec))
    if credential is not None and spec.name in type_spec.route_fields:
        parts.append(ROUTE_HELP)
    # Django renders help text as HTML; a custom type's help is data typed by staff.
    return escape(" ".join(parts))


def schema_form_field(
    spec: types.Field, type_spec: types.CredentialType, credential: Credential | None = None
) -> forms.Field:
    """A Django form field for one schema field; secrets are never prefilled."""
    field = _base_field(spec)
    field.label = spec.label
    field.help_text = _help_text(spec, type_spec, credential)
    # The service has the last word on "required": a defaulted field is filled in, a field
    # shown only under a condition may be absent, and a stored secret may be left blank.
    field.required = (
        spec.type != "boolean"
        and spec.required
        and spec.default is None
        and not spec.show_if
        and not (spec.secret and credential is not None)
    )
    if not spec.secret and spec.default is not None:
        field.initial = spec.default
    attrs = {"data-schema-field": spec.name}
    if spec.placeholder:
        attrs["placeholder"] = spec.placeholder
    if spec.show_if:
        # For the page's script, which hides the input unless the condition holds.
        attrs["data-show-if"] = json.dumps({name: list(values) for name, values in spec.show_if.items()})
    field.widget.attrs.update(attrs)
    return field


# --- The credential form -----------------------------------------------------------------------


NOT_KEPT = "Not kept after an error: paste it again."


class CredentialForm(forms.Form):
    """A credential's attributes and its type's fields; creates or updates through the services.

    Pass ``credential`` to edit one: its non-secret values are prefilled from the clear
    copies on the row (nothing is decrypted), its secrets are blank and say whether they are
    stored. ``teams`` are the groups offered, on creation or to move it (None: no team choice).
    """

    name = forms.CharField(max_length=200)
    environment = forms.CharField(
        max_length=64, initial="production", help_text="Lower-case letters, digits, '-' and '_'."
    )
    team = forms.ModelChoiceField(
        queryset=Group.objects.none(), required=False, help_text="Its members may use the credential."
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    tags = ListField(
        separator=re.compile(r","), joiner=", ", required=False, help_text="Comma-separated.", widget=forms.TextInput
    )
    expires_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"),
        help_text="After this time the credential can no longer be used.",
    )
    is_active = forms.BooleanField(required=False, label="Active")
    retest_daily = forms.BooleanField(
        required=False, label="Test daily", help_text="Test it again every day and record the result."
    )
    # Its ceiling, CREDENTIAL_MAX_VERSIONS, is a setting: added per form (_set_up_attributes); the service checks too.
    keep_versions = forms.IntegerField(
        required=False,
        min_value=1,
        label="Versions kept",
        help_text="How many versions of the secret to keep for rollback; blank keeps the most the site allows.",
    )
    allowed_hosts = ListField(
        separator=_HOST_SEPARATORS,
        joiner="\n",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Hosts the secret may be sent to, one per line or comma-separated. "
        "Leave blank for the type's defaults.",
    )
    # The version the page was built from: a save over someone else's change is refused.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(
        self,
        *args: Any,
        type_spec: types.CredentialType,
        credential: Credential | None = None,
        teams: QuerySet[Group] | None = None,
        **kwargs: Any,
    ):
        self.type_spec = type_spec
        self.credential = credential
        if credential is not None:
            kwargs["initial"] = {**self._initial_from(credential), **(kwargs.get("initial") or {})}
        super().__init__(*args, **kwargs)
        self._set_up_attributes(teams)
        self._add_schema_fields()

    def _initial_from(self, credential: Credential) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": credential.name,
            "environment": credential.environment,
            "description": credential.description,
            "tags": list(credential.tags),
            # The input shows whole seconds; compare like with like so an untouched field is unchanged.
            "expires_at": credential.expires_at.replace(microsecond=0) if credential.expires_at else None,
            "is_active": credential.is_active,
            "retest_daily": credential.retest_daily,
            "keep_versions": credential.keep_versions,
            "allowed_hosts": list(credential.allowed_hosts),
            "team": credential.team_id,
            "version": credential.version,
        }
        for spec in _shown_fields(self.type_spec):
            if not spec.secret and spec.name in credential.public_fields:
                initial[form_field_name(spec.name)] = credential.public_fields[spec.name]
        return initial

    def _set_up_attributes(self, teams: QuerySet[Group] | None) -> None:
        ceiling = settings.CREDENTIAL_MAX_VERSIONS
        keep = self.fields["keep_versions"]
        keep.validators.append(MaxValueValidator(ceiling))
        keep.widget.attrs["max"] = ceiling
        keep.help_text = f"{keep.help_text} At most {ceiling}."
        if teams is None:
            del self.fields["team"]
        elif self.credential is None:
            self.fields["team"].queryset = teams  # type: ignore[attr-defined]  # a ModelChoiceField
        else:
            # Moving a credential changes who may use it: offered to those who may share it (the
            # page decides), and credential_update checks that again, with the new team's membership.
            offered = Q(pk__in=teams.values("pk")) | Q(pk=self.credential.team_id)
            self.fields["team"].queryset = Group.objects.filter(offered).order_by("name")  # type: ignore[attr-defined]
        if self.credential is None:
            del self.fields["is_active"], self.fields["version"]
        else:
            self.fields["allowed_hosts"].help_text = (
                "Hosts the secret may be sent to, one per line or comma-separated. Changing them "
                "requires entering the secrets again; blank keeps the current hosts."
            )

    def _add_schema_fields(self) -> None:
        for spec in _shown_fields(self.type_spec):
            self.fields[form_field_name(spec.name)] = schema_form_field(spec, self.type_spec, self.credential)
            if _clearable(spec, self.credential):
                self.fields[CLEAR_PREFIX + spec.name] = forms.BooleanField(
                    required=False, label=f"Clear {spec.label.lower()}", help_text="Remove the stored value."
                )

    # --- reading the input ----------------------------------------------------------------------

    def attribute_field_names(self) -> list[str]:
        return [name for name in self.fields if not name.startswith((FIELD_PREFIX, CLEAR_PREFIX))]

    def schema_field_names(self) -> list[str]:
        return schema_field_names(self.type_spec, self.credential)

    def sections(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The visible inputs grouped for a page: the credential, its type's fields, its destinations."""
        attributes = [
            self[name] for name in self.attribute_field_names() if name != "allowed_hosts" and not self[name].is_hidden
        ]
        return [
            ("Credential", attributes),
            (f"{self.type_spec.name} fields", [self[name] for name in self.schema_field_names()]),
            ("Destinations", [self["allowed_hosts"]]),
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what Form.clean() returns, typed as never None
        self._ignore_hidden_by_condition(cleaned)
        self._check_version(cleaned)
        for spec in _shown_fields(self.type_spec):
            if cleaned.get(CLEAR_PREFIX + spec.name) and cleaned.get(form_field_name(spec.name)):
                self.add_error(CLEAR_PREFIX + spec.name, "Enter a new value or clear the stored one, not both.")
        if self.errors:
            # The service is not asked when an input is refused here: ask its rules now, so that
            # every problem is reported in this one round rather than one more on each submit.
            self._add_rule_errors(cleaned)
        return cleaned

    def _add_rule_errors(self, cleaned: dict[str, Any]) -> None:
        """The services' own checks of the inputs that passed the form's, beside each input."""
        names = ("name", "environment", "description", "tags", "keep_versions")
        attributes = {name: cleaned[name] for name in names if name in cleaned}
        problems: dict[str, list[str]] = {}
        check_attributes(attributes, problems)
        if self.credential is None:
            # On creation every field is given; an update's are merged with the stored ones by the service.
            _, _, field_problems = clean_fields(self.type_spec, self.schema_values())
            problems.update({form_field_name(name): messages for name, messages in field_problems.items()})
        for name, messages in problems.items():
            if name in self.fields and name not in self.errors:
                for message in messages:
                    self.add_error(name, message)

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound and self.errors:
            self._say_secrets_are_not_kept()

    def _say_secrets_are_not_kept(self) -> None:
        """A secret is never rendered back: beside each one typed in, say it must be entered again."""
        for spec in _shown_fields(self.type_spec):
            name = form_field_name(spec.name)
            if spec.secret and name in self.fields and self.data.get(self.add_prefix(name)):
                field = self.fields[name]
                if not str(field.help_text).startswith(NOT_KEPT):
                    field.help_text = f"{NOT_KEPT} {field.help_text}".strip()
                    # A bound field copies its field's help text when first made (as in clean()).
                    self[name].help_text = field.help_text

    def _ignore_hidden_by_condition(self, cleaned: dict[str, Any]) -> None:
        """A field whose condition does not hold is hidden on the page: its input is neither checked nor kept.

        The page's script disables such inputs, but a browser without it (or a crafted post)
        may still send one; the validator would drop its value, and its errors must go too.
        """
        values: dict[str, Any] = {}
        self.hidden_by_condition: set[str] = set()
        for spec in _shown_fields(self.type_spec):
            name = form_field_name(spec.name)
            if spec.is_shown(values):
                value = cleaned.get(name)
                # As the validator sees it: a blank input takes the field's default.
                values[spec.name] = spec.default if value in (None, "") and spec.default is not None else value
                continue
            self.hidden_by_condition.add(spec.name)
            for hidden in (name, CLEAR_PREFIX + spec.name):
                self.errors.pop(hidden, None)
                cleaned.pop(hidden, None)

    def _check_version(self, cleaned: dict[str, Any]) -> None:
        # An error on a hidden input would be invisible: say it where the user reads it.
        if self.credential is None:
            return
        if self.errors.pop("version", None) is not None or cleaned.get("version") is None:
            cleaned.pop("version", None)
            self.add_error(None, "The page did not say which version it edits: reload it and apply your change again.")

    @sensitive_variables("values", "value")
    def schema_values(self) -> dict[str, Any]:
        """The schema part of the input, as the validator takes it.

        On creation: every value given. On update: only what changed; a blank secret is left
        out (the stored one is kept), a blank non-secret is None (cleared), and a ticked
        "clear" box is None for its secret.
        """
        updating = self.credential is not None
        changed = set(self.changed_data) if updating else set()
        values: dict[str, Any] = {}
        for spec in _shown_fields(self.type_spec):
            name = form_field_name(spec.name)
            if spec.name in self.hidden_by_condition:
                continue
            if self.cleaned_data.get(CLEAR_PREFIX + spec.name):
                values[spec.name] = None
                continue
            if updating and name not in changed:
                continue
            value = self.cleaned_data.get(name)
            if value is None or value == "":
                if updating and not spec.secret:
                    values[spec.name] = None
                continue
            values[spec.name] = value
        return values

    @sensitive_variables("fields")
    def create_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields = self.schema_values()
        return {
            "type_slug": self.type_spec.slug,
            "name": data["name"],
            "fields": fields,
            "environment": data["environment"],
            "description": data["description"],
            "tags": data["tags"],
            "expires_at": data["expires_at"],
            "allowed_hosts": data["allowed_hosts"] or None,
            "team": data.get("team"),
            "retest_daily": data["retest_daily"],
            "keep_versions": data.get("keep_versions"),
        }

    @sensitive_variables("changes", "fields")
    def update_changes(self) -> dict[str, Any]:
        """Only what the user changed: the service compares, audits and bumps the version."""
        changed = set(self.changed_data)
        attributes = (
            "name", "environment", "description", "tags", "expires_at", "is_active", "retest_daily", "keep_versions",
        )  # fmt: skip
        # A disabled input (keep_versions, for who may not delete) is never in changed_data.
        changes = {name: self.cleaned_data[name] for name in attributes if name in changed}
        if "team" in changed:
            changes["team"] = self.cleaned_data["team"]
        if "allowed_hosts" in changed and self.cleaned_data["allowed_hosts"]:
            changes["allowed_hosts"] = self.cleaned_data["allowed_hosts"]
        fields = self.schema_values()
        if fields:
            changes["fields"] = fields
        return changes

    # --- writing through the services ------------------------------------------------------------

    def submit(self, *, actor: Actor, ip: str | None = None) -> Credential | None:
        """Validate, then create or update. On refusal the errors are on the form and this returns None."""
        if not self.is_valid():
            return None
        return self.call_service(actor=actor, ip=ip)

    @sensitive_variables("arguments", "changes")
    def call_service(self, *, actor: Actor, ip: str | None = None) -> Credential | None:
        """Create or update from ``cleaned_data`` (the form must be valid); None when refused."""
        try:
            if self.credential is None:
                arguments = self.create_arguments()
                return credential_create(actor=actor, ip=ip, **arguments)
            changes = self.update_changes()
            return credential_update(
                actor=actor,
                credential_id=self.credential.pk,
                changes=changes,
                expected_version=self.cleaned_data["version"],
                ip=ip,
            )
        except InvalidCredential as exc:
            self.add_service_errors(exc)
        except (StaleVersion, CredentialNotFound, CredentialPermissionDenied, CredentialUnavailable) as exc:
            self.add_error(None, str(exc))
        return None

    def add_service_errors(self, exc: InvalidCredential) -> None:
        """Put each message beside its input; what has no input goes to the form's own errors."""
        self._say_secrets_are_not_kept()
        for key, messages in exc.errors.items():
            self._add_messages(key if key in self.fields else None, key, messages)
        for key, messages in exc.field_errors.items():
            name = form_field_name(key)
            label = next((f.label for f in self.type_spec.fields if f.name == key), key)
            self._add_messages(name if name in self.fields else None, label, messages)

    def _add_messages(self, field: str | None, label: str, messages: Iterable[str]) -> None:
        for message in messages:
            if field is None and label != "__all__":
                message = f"{label}: {message}"
            self.add_error(field, message)
