"""Who may use, view or change a credential: the list of shares, adding one, and taking one back.

``share_posted`` and ``unshare_posted`` are also the admin's Sharing page's (credentials/admin/sharing.py).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from config.actors import signed_in
from config.addresses import client_ip
from credentials.errors import CredentialNotFound, InvalidCredential
from credentials.forms.share import ShareForm
from credentials.models import Credential
from credentials.permissions import SHARE
from credentials.selectors import credential_shares_for_user
from credentials.sharing import credential_share, credential_unshare
from credentials.teams import team_access
from credentials.views.access import requestable_form_for
from credentials.views.common import require, visible_credential


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def credential_shares_page(request: HttpRequest, pk: Any) -> HttpResponse:
    credential, allowed = visible_credential(request, pk)
    # Without *view* or *share* this raises CredentialPermissionDenied, a PermissionDenied: 403.
    shares = credential_shares_for_user(request.user, credential=credential)
    form = ShareForm(request.POST or None) if SHARE in allowed else None
    if request.method == "POST":
        require(allowed, SHARE, "You may not share this credential.")
        if form is not None and form.is_valid() and share_posted(request, credential, form):
            return redirect("credentials:shares", pk=credential.pk)
    context = {
        "credential": credential,
        "allowed": allowed,
        "shares": shares,
        "team": team_access(credential),
        "form": form,
        "requestable_form": requestable_form_for(credential) if SHARE in allowed else None,
    }
    return render(request, "credentials/shares.html", context)


@login_required
@require_POST
def credential_unshare_page(request: HttpRequest, pk: Any) -> HttpResponse:
    credential, allowed = visible_credential(request, pk)
    require(allowed, SHARE, "You may not change who this credential is shared with.")
    unshare_posted(request, credential)
    return redirect("credentials:shares", pk=credential.pk)


def share_posted(request: HttpRequest, credential: Credential, form: ShareForm) -> bool:
    """Grant what a valid share form asks, through the service; False when the form now carries its refusals.

    A caller who may not share gets the service's CredentialPermissionDenied (a 403).
    """
    try:
        share = credential_share(
            actor=signed_in(request.user),
            credential_id=credential.pk,
            permissions=form.cleaned_data["permissions"],
            expires_at=form.end(),
            ip=client_ip(request),
            **form.grantee(),
        )
    except InvalidCredential as exc:
        form.add_service_errors(exc)
        return False
    except CredentialNotFound:  # deleted since the page was drawn
        messages.error(request, "This credential no longer exists.")
        return True
    end = form.end()
    until = f" until {timezone.localtime(end):%Y-%m-%d %H:%M %Z}" if end else ""
    messages.success(request, f"Shared with {share.name}: {', '.join(share.permissions)}{until}.")
    return True


def unshare_posted(request: HttpRequest, credential: Credential) -> None:
    """Take back the share a Remove button names (its kind and id), saying how it went in a message."""
    grantee = _grantee(request.POST.get("kind", ""), request.POST.get("id", ""))
    if grantee is None:
        messages.error(request, "That share no longer exists.")
        return
    try:
        share = credential_unshare(
            actor=signed_in(request.user), credential_id=credential.pk, ip=client_ip(request), **grantee
        )
    except CredentialNotFound:
        messages.error(request, "This credential no longer exists.")
    except InvalidCredential as exc:
        messages.error(request, " ".join(message for problems in exc.errors.values() for message in problems))
    else:
        messages.success(request, f"{share.name} no longer has access.")


def _grantee(kind: str, grantee_id: str) -> dict[str, Any] | None:
    if not grantee_id.isdigit():
        return None
    if kind == "user":
        user = get_user_model().objects.filter(pk=int(grantee_id)).first()
        return {"user": user} if user is not None else None
    if kind == "group":
        group = Group.objects.filter(pk=int(grantee_id)).first()
        return {"group": group} if group is not None else None
    return None
