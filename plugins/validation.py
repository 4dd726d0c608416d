"""Checks of a plugin's registration: its name, URL and ref, and that its credential fits the URL."""

from __future__ import annotations

import uuid

from config.actors import Actor
from credentials import outbound
from credentials.errors import CredentialNotFound, DestinationRefused
from credentials.models import Credential
from credentials.permissions import USE, user_can
from credentials.selectors import credential_get_by_name_for_user, credential_get_for_user
from plugins.git.command import RepoLocation, parse_repo_url, validate_ref
from plugins.selectors import git_transport_of

Errors = dict[str, list[str]]

NO_SUCH_CREDENTIAL = "No credential you may use has this id."
TRANSPORT_NAMES = {"https": "an https:// URL", "ssh": "an ssh:// or user@host:path URL"}
FITTING_TYPES = {"https": "a token or basic-authentication credential", "ssh": "an SSH key credential"}


def check_name(name: object, errors: Errors) -> str:
    if not isinstance(name, str) or not name.strip():
        errors["name"] = ["Enter a name."]
        return ""
    name = name.strip()
    if len(name) > 200 or "\x00" in name:
        errors["name"] = ["Enter a name of at most 200 characters."]
    return name


def check_location(repo_url: object, errors: Errors) -> RepoLocation | None:
    if not isinstance(repo_url, str) or not repo_url.strip():
        errors["repo_url"] = ["Enter the repository's URL."]
        return None
    if len(repo_url) > 2000:
        errors["repo_url"] = ["Enter a URL of at most 2,000 characters."]
        return None
    try:
        location = parse_repo_url(repo_url)
        # An address in a refused range is refused now; a name is judged at each sync, by the
        # address it then resolves to (credentials.outbound), which is the one git connects to.
        outbound.check_literal(location.host)
    except (ValueError, DestinationRefused) as exc:
        errors["repo_url"] = [str(exc)]
        return None
    return location


def check_ref(ref: object, errors: Errors) -> str:
    if ref is None:
        return ""
    if not isinstance(ref, str):
        errors["ref"] = ["Enter a branch, tag or commit."]
        return ""
    try:
        return validate_ref(ref.strip())
    except ValueError as exc:
        errors["ref"] = [str(exc)]
        return ""


def find_credential(
    actor: Actor,
    *,
    credential_id: uuid.UUID | str | None = None,
    name: str | None = None,
    environment: str | None = None,
    errors: Errors,
) -> Credential | None:
    """The credential named by id, or by name and environment, that ``actor`` may use; None for none."""
    if credential_id in (None, "") and name in (None, ""):
        return None
    try:
        if credential_id is not None and credential_id != "":
            credential = credential_get_for_user(actor, credential_id=credential_id)
        else:
            credential = credential_get_by_name_for_user(actor, name=str(name), environment=environment or "production")
    except CredentialNotFound:
        # The same answer for a missing credential and a hidden one (ARCHITECTURE.md, invariant 5).
        errors["credential"] = [NO_SUCH_CREDENTIAL if credential_id else "No credential you may use has this name."]
        return None
    if not user_can(actor, USE, credential):
        errors["credential"] = ["You may see this credential but not use it: ask its owner to share it for use."]
        return None
    return credential


def check_fit(credential: Credential | None, location: RepoLocation | None, errors: Errors) -> None:
    """The credential can authenticate to this URL, and its owner allowed the URL's host (invariant 9)."""
    if location is None or "credential" in errors:
        return
    if credential is None:
        if location.transport == "ssh":
            errors["credential"] = ["A repository over SSH needs an SSH key credential."]
        return
    if not credential.is_active:
        errors["credential"] = ["This credential is inactive."]
        return
    if credential.is_expired:
        errors["credential"] = ["This credential has expired."]
        return
    transport = git_transport_of(credential)
    if transport != location.transport:
        errors["credential"] = [
            f"{TRANSPORT_NAMES[location.transport].capitalize()} needs {FITTING_TYPES[location.transport]}; "
            f"this one is a {credential.type.name}."
        ]
        return
    if location.host not in credential.allowed_hosts:
        errors["repo_url"] = [
            f"The credential “{credential.name}” may only be sent to "
            f"{', '.join(credential.allowed_hosts) or 'no host'}; '{location.host}' is not among them."
        ]


def credential_fits(credential: Credential, location: RepoLocation) -> bool:
    """For a picker: whether ``credential`` could clone ``location`` (the caller checked *use*)."""
    errors: Errors = {}
    check_fit(credential, location, errors)
    return not errors
