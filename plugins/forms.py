"""The plugin pages' forms: register a repository, or change a plugin's name, ref and credential."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from credentials.models import Credential
from plugins.errors import InvalidPlugin
from plugins.models import Plugin
from plugins.selectors import clone_credentials_for_user, git_transport_of
from plugins.validation import check_fit, check_location, check_ref, credential_fits

# The picker's value for "no credential": the empty value is left to "nothing chosen yet".
NO_CREDENTIAL = "none"
NO_CREDENTIAL_LABEL = "None (public repository)"
CHOOSE_LABEL = "Choose a credential…"
URL_HELP = "https://host/path.git, ssh://git@host/path.git or git@host:path.git"
REF_HELP = "A branch, tag or commit; leave empty for the repository's default branch."


def credential_label(credential: Credential) -> str:
    hosts = ", ".join(credential.allowed_hosts) or "no host"
    return f"{credential.name} ({credential.environment}) · {credential.type.name} · {hosts}"


def _checked(check: Any, value: str, field: str) -> str:
    """``value`` if the validation helper ``check`` finds nothing wrong; its message as the field's error."""
    errors: dict[str, list[str]] = {}
    check(value, errors)
    if errors.get(field):
        raise forms.ValidationError(errors[field])
    return value


class CredentialSelect(forms.Select):
    """A select whose options carry data attributes (transport, hosts) for the page's script to filter on."""

    option_attrs: dict[str, dict[str, str | bool]] = {}

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        option["attrs"].update(self.option_attrs.get(str(value), {}))
        return option


class CredentialChoiceForm(forms.Form):
    """The credential picker shared by the register and edit forms, and the mapping of service errors."""

    credential = forms.ChoiceField(
        label="Credential",
        widget=CredentialSelect(attrs={"data-credential-picker": ""}),
        help_text="Only credentials you may use and that can clone are listed: an SSH key for SSH URLs, "
        "a token or basic authentication for https:// URLs, whose allowed hosts include the URL's host.",
        error_messages={"required": "Choose a credential, or None for a public repository."},
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.offered: list[Credential] = clone_credentials_for_user(user)
        self.show_credentials(self.offered, offer_none=True)
        self.offer_fitting(self.url_to_fit())

    def url_to_fit(self) -> Any:
        """The repository URL the picker is narrowed to, once there is one."""
        return None

    def full_clean(self) -> None:
        # A choice is checked against every credential offered, so that the service says why one
        # does not fit the URL; the page then offers only those that do.
        self.show_credentials(self.offered, offer_none=True)
        super().full_clean()
        self.offer_fitting(self.url_to_fit())

    def show_credentials(
        self, credentials: list[Credential], *, offer_none: bool, fitting: set[str] | None = None
    ) -> None:
        """Set the picker's options; assigned anew so the class's widget is never shared between forms.

        Every credential offered stays in the page; those that do not fit the URL (``fitting``, by id)
        are hidden and disabled, as the page's script does while the URL is typed, so that correcting
        the URL there brings them back.
        """
        field = cast(forms.ChoiceField, self.fields["credential"])
        choices = [("", CHOOSE_LABEL), (NO_CREDENTIAL, NO_CREDENTIAL_LABEL)]
        choices += [(str(credential.pk), credential_label(credential)) for credential in credentials]
        field.choices = choices
        attrs: dict[str, dict[str, str | bool]] = {
            str(credential.pk): {
                "data-transport": git_transport_of(credential),
                "data-hosts": " ".join(credential.allowed_hosts),
            }
            for credential in credentials
        }
        withdrawn = {value for value, _ in choices[2:] if fitting is not None and value not in fitting}
        if not offer_none:
            withdrawn.add(NO_CREDENTIAL)
        for value in withdrawn:
            attrs.setdefault(value, {}).update(hidden=True, disabled=True)
        field.widget.option_attrs = attrs

    def offered_values(self) -> set[str]:
        """The choices a person can pick: the picker's options, less those withdrawn for the URL."""
        field = cast(forms.ChoiceField, self.fields["credential"])
        withdrawn = {value for value, attrs in field.widget.option_attrs.items() if attrs.get("disabled")}
        # A list of pairs, set above; the stubs type ``choices`` as everything it may be set to.
        return {str(value) for value, _ in field.choices if value} - withdrawn  # type: ignore[misc, union-attr]

    def chosen_credential_id(self) -> str | None:
        value = self.cleaned_data["credential"]
        return None if value == NO_CREDENTIAL else value

    def offer_fitting(self, repo_url: Any) -> None:
        """After a URL was entered, offer only what fits it; the server checks the fit again on submit."""
        errors: dict[str, list[str]] = {}
        location = check_location(repo_url, errors)
        if location is None:
            return
        check_fit(None, location, errors)  # a public repository: only over HTTPS
        fitting = {str(credential.pk) for credential in self.offered if credential_fits(credential, location)}
        self.show_credentials(self.offered, offer_none=not errors, fitting=fitting)

    def add_service_errors(self, exc: InvalidPlugin) -> None:
        """Each message beside its input; one about anything else above the form."""
        for key, messages in exc.errors.items():
            for message in messages:
                self.add_error(key if key in self.fields else None, message)


class PluginRegisterForm(CredentialChoiceForm):
    name = forms.CharField(max_length=200)
    repo_url = forms.CharField(label="Repository URL", max_length=2000, help_text=URL_HELP)
    ref = forms.CharField(label="Ref", required=False, max_length=255, help_text=REF_HELP)

    field_order = ["name", "repo_url", "ref", "credential"]

    def url_to_fit(self) -> Any:
        return self.data.get("repo_url") if self.is_bound else None

    def clean_repo_url(self) -> str:
        # The service's own check, run here too so a bad URL is named even when another field is wrong.
        return _checked(check_location, self.cleaned_data["repo_url"], "repo_url")

    def clean_ref(self) -> str:
        return _checked(check_ref, self.cleaned_data["ref"], "ref")

    def register_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "repo_url": data["repo_url"],
            "ref": data["ref"],
            "credential_id": self.chosen_credential_id(),
        }


class PluginEditForm(CredentialChoiceForm):
    """Rename, change the ref, or move to another credential (or none): how a credential is freed."""

    name = forms.CharField(max_length=200)
    ref = forms.CharField(label="Ref", required=False, max_length=255, help_text=REF_HELP)

    field_order = ["name", "ref", "credential"]

    def __init__(self, *args: Any, plugin: Plugin, **kwargs: Any):
        self.plugin = plugin
        current = str(plugin.credential_id) if plugin.credential_id else NO_CREDENTIAL
        initial = {"name": plugin.name, "ref": plugin.ref, "credential": current}
        super().__init__(*args, initial=initial, **kwargs)

    def url_to_fit(self) -> Any:
        return self.plugin.repo_url

    def show_credentials(
        self, credentials: list[Credential], *, offer_none: bool, fitting: set[str] | None = None
    ) -> None:
        # The current credential stays selectable even if its user may no longer use it (or it no
        # longer fits), so that changing only the name or ref does not force a move.
        current = self.plugin.credential
        if current is not None:
            if all(credential.pk != current.pk for credential in credentials):
                credentials = [*credentials, current]
            if fitting is not None:
                fitting = {*fitting, str(current.pk)}
        super().show_credentials(credentials, offer_none=offer_none, fitting=fitting)

    def clean_ref(self) -> str:
        return _checked(check_ref, self.cleaned_data["ref"], "ref")

    def update_arguments(self) -> dict[str, Any]:
        arguments = {"name": self.cleaned_data["name"], "ref": self.cleaned_data["ref"]}
        if "credential" in self.changed_data:
            arguments["credential_id"] = self.chosen_credential_id()
        return arguments
