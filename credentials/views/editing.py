"""Creating a credential from its type's schema form, editing it (secrets blank), and deleting it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_safe

from config.actors import signed_in
from config.addresses import client_ip
from credentials.errors import CredentialInUse, CredentialNotFound, CredentialPermissionDenied
from credentials.forms.credential import CredentialForm
from credentials.models import CredentialType
from credentials.permissions import CHANGE, DELETE, SHARE, VIEW, managed_teams
from credentials.selectors import credential_type_list, credential_types_by_category, credential_usage_for_user
from credentials.services import credential_delete
from credentials.views.common import icon_of, require, visible_credential

# The pages that receive secrets keep every posted value out of error reports.
receives_secrets = sensitive_post_parameters()


def _teams_for(user: Any) -> QuerySet[Group]:
    """The teams a user may give a new credential to: those they belong to or manage."""
    if user.is_superuser:
        return Group.objects.order_by("name")
    return Group.objects.filter(Q(user=user) | Q(pk__in=managed_teams(user))).distinct().order_by("name")


@login_required
@require_safe
def choose_type(request: HttpRequest) -> HttpResponse:
    categories = [
        (label, [{"type": row, "icon": icon_of(row.icon)} for row in rows])
        for label, rows in credential_types_by_category()
    ]
    return render(request, "credentials/choose_type.html", {"categories": categories})


def _active_type(slug: str) -> CredentialType:
    type_row = credential_type_list().filter(slug=slug).first()
    if type_row is None:
        raise Http404("No such credential type.")
    return type_row


@receives_secrets
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def credential_create_page(request: HttpRequest, type_slug: str) -> HttpResponse:
    type_row = _active_type(type_slug)
    form = CredentialForm(request.POST or None, type_spec=type_row.spec, teams=_teams_for(request.user))
    if request.method == "POST":
        credential = form.submit(actor=signed_in(request.user), ip=client_ip(request))
        if credential is not None:
            messages.success(request, f"Credential “{credential.name}” saved.")
            return redirect("credentials:detail", pk=credential.pk)
    context = {"form": form, "credential_type": type_row, "icon": icon_of(type_row.icon)}
    return render(request, "credentials/form.html", context)


@receives_secrets
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def credential_edit_page(request: HttpRequest, pk: Any) -> HttpResponse:
    credential, allowed = visible_credential(request, pk)
    require(allowed, CHANGE, "You may not change this credential.")
    teams = _teams_for(request.user) if SHARE in allowed else None
    form = CredentialForm(request.POST or None, type_spec=credential.type.spec, credential=credential, teams=teams)
    if request.method == "POST":
        saved = form.submit(actor=signed_in(request.user), ip=client_ip(request))
        if saved is not None:
            messages.success(request, f"Credential “{saved.name}” saved.")
            return redirect("credentials:detail", pk=saved.pk)
    context = {
        "form": form,
        "credential": credential,
        "credential_type": credential.type,
        "icon": icon_of(credential.type.icon),
    }
    return render(request, "credentials/form.html", context)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def credential_delete_page(request: HttpRequest, pk: Any) -> HttpResponse:
    credential, allowed = visible_credential(request, pk)
    require(allowed, DELETE, "You may not delete this credential.")
    if request.method == "POST":
        try:
            credential_delete(actor=signed_in(request.user), credential_id=credential.pk, ip=client_ip(request))
        except CredentialNotFound:
            raise Http404("Credential not found.") from None
        except CredentialPermissionDenied as exc:
            messages.error(request, str(exc))
            return redirect("credentials:detail", pk=credential.pk)
        except CredentialInUse as exc:
            # Nothing was deleted; the confirmation page lists the plugins to remove or move first.
            messages.error(request, str(exc))
            return redirect("credentials:delete", pk=credential.pk)
        messages.success(request, f"Credential “{credential.name}” deleted.")
        return redirect("credentials:list")
    # What a deletion breaks: the services that used the secret, and the plugins that stop it.
    usage = credential_usage_for_user(request.user, credential=credential) if VIEW in allowed else None
    context = {"credential": credential, "usage": usage, "plugin_usage": (usage or {}).get("plugins", [])}
    return render(request, "credentials/delete.html", context)
