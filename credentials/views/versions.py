"""The secret's history on the site: restoring or destroying one version, each after a confirmation page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from config.actors import signed_in
from config.addresses import client_ip
from credentials.errors import (
    CredentialNotFound,
    CredentialPermissionDenied,
    InvalidCredential,
    StaleVersion,
    VersionNotFound,
)
from credentials.models import Credential, VersionOrigin
from credentials.permissions import CHANGE, DELETE
from credentials.selectors import VersionFacts, credential_versions_for_user
from credentials.versions.services import credential_rollback, credential_version_destroy
from credentials.views.common import require, visible_credential


def _kept_version(request: HttpRequest, credential: Credential, number: int) -> VersionFacts:
    """The version the URL names, if it still holds its payload and is not the current one; 404 otherwise."""
    for facts in credential_versions_for_user(request.user, credential=credential):
        if facts.number == number and not facts.is_destroyed and not facts.is_current:
            return facts
    raise Http404("No such version to restore or destroy.")


def _confirmation(request: HttpRequest, credential: Credential, number: int) -> dict[str, Any]:
    facts = _kept_version(request, credential, number)
    return {"credential": credential, "facts": facts, "origin": dict(VersionOrigin.choices).get(facts.origin)}


def _back(credential: Credential) -> HttpResponse:
    response = redirect("credentials:detail", pk=credential.pk)
    response["Location"] += "#versions"
    return response


def _refused(request: HttpRequest, exc: InvalidCredential) -> None:
    for said in exc.as_dict().values():
        for text in said:
            messages.error(request, str(text))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def version_restore_page(request: HttpRequest, pk: Any, number: int) -> HttpResponse:
    credential, allowed = visible_credential(request, pk)
    require(allowed, CHANGE, "You may not change this credential.")
    if request.method == "POST":
        # The version of the credential the confirmation page showed: a change since then refuses this.
        posted = request.POST.get("version", "")
        if not posted.isdigit():
            messages.error(request, "The page did not say which version of the credential it showed: reload it.")
            return _back(credential)
        try:
            done = credential_rollback(
                actor=signed_in(request.user),
                credential_id=credential.pk,
                number=number,
                expected_version=int(posted),
                ip=client_ip(request),
            )
        except CredentialNotFound:
            raise Http404("Credential not found.") from None
        except (StaleVersion, VersionNotFound, CredentialPermissionDenied) as exc:
            messages.error(request, str(exc))
            return _back(credential)
        except InvalidCredential as exc:
            _refused(request, exc)
            return _back(credential)
        said = done.message
        # A warning's colour when the hosts changed too: the secret may now go where it went before.
        (messages.warning if done.hosts_restored else messages.success)(request, said)
        return _back(credential)
    return render(request, "credentials/version_restore.html", _confirmation(request, credential, number))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def version_destroy_page(request: HttpRequest, pk: Any, number: int) -> HttpResponse:
    credential, allowed = visible_credential(request, pk)
    require(allowed, DELETE, "Only the owner or an administrator may destroy a version.")
    if request.method == "POST":
        try:
            credential_version_destroy(
                actor=signed_in(request.user), credential_id=credential.pk, number=number, ip=client_ip(request)
            )
        except CredentialNotFound:
            raise Http404("Credential not found.") from None
        except (VersionNotFound, CredentialPermissionDenied) as exc:
            messages.error(request, str(exc))
            return _back(credential)
        except InvalidCredential as exc:
            _refused(request, exc)
            return _back(credential)
        messages.success(request, f"Version {number} destroyed: its encrypted secret is gone for good.")
        return _back(credential)
    return render(request, "credentials/version_destroy.html", _confirmation(request, credential, number))
