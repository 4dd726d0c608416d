"""Time-bound access on the site: what one may request, asking, one's requests, reviewing them, who may request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from config.actors import signed_in
from config.addresses import client_ip
from credentials.access import selectors
from credentials.access.rules import max_hours
from credentials.access.services import (
    access_request_approve,
    access_request_cancel,
    access_request_create,
    access_request_deny,
    credential_set_requestable,
)
from credentials.errors import (
    AccessRequestClosed,
    AccessRequestNotFound,
    CredentialNotFound,
    CredentialPermissionDenied,
    InvalidCredential,
)
from credentials.forms.access import AccessRequestForm, DenyForm, RequestableForm
from credentials.models import Credential
from credentials.permissions import SHARE
from credentials.views.common import require, visible_credential


@login_required
def requestable_list_page(request: HttpRequest) -> HttpResponse:
    rows = selectors.requestable_credentials_for_user(signed_in(request.user))
    return render(request, "credentials/access/requestable.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def access_request_page(request: HttpRequest, pk: Any) -> HttpResponse:
    actor = signed_in(request.user)
    try:
        credential = selectors.requestable_credential_for_user(actor, credential_id=pk)
    except CredentialNotFound:  # not requestable by this user: as if it did not exist
        raise Http404("Credential not found.") from None
    form = AccessRequestForm(request.POST or None, cap=max_hours(credential))
    if request.method == "POST" and form.is_valid():
        try:
            made = access_request_create(
                actor=actor,
                credential_id=credential.pk,
                permission=form.cleaned_data["permission"],
                hours=form.cleaned_data["hours"],
                reason=form.cleaned_data["reason"],
                ip=client_ip(request),
            )
        except CredentialNotFound:
            raise Http404("Credential not found.") from None
        except InvalidCredential as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Asked for {made.permission} of {credential.name} for {made.hours} hours.")
            return redirect("credentials:my-requests")
    return render(request, "credentials/access/request.html", {"credential": credential, "form": form})


@login_required
def my_requests_page(request: HttpRequest) -> HttpResponse:
    rows = selectors.access_requests_of_user(signed_in(request.user))
    return render(request, "credentials/access/mine.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def access_request_cancel_page(request: HttpRequest, request_id: Any) -> HttpResponse:
    """GET asks first (no script confirms: the CSP forbids inline script); POST cancels."""
    actor = signed_in(request.user)
    if request.method == "POST":

        def cancel(actor: Any, ip: str | None) -> Any:
            return access_request_cancel(actor=actor, request_id=request_id, ip=ip)

        _decision(request, cancel, "Cancelled your request for {permission} of {name}.")
        return redirect("credentials:my-requests")
    try:
        asked = selectors.access_request_get_for_user(actor, request_id=request_id)
    except AccessRequestNotFound:
        raise Http404("Access request not found.") from None
    if asked.requester_id != actor.pk:
        raise PermissionDenied("Only the requester cancels a request; deny it instead.")
    return render(request, "credentials/access/cancel.html", {"row": asked})


@login_required
def review_page(request: HttpRequest) -> HttpResponse:
    rows = selectors.access_requests_to_review(signed_in(request.user))
    return render(request, "credentials/access/review.html", {"rows": rows, "deny_form": DenyForm()})


@login_required
@require_POST
def access_request_approve_page(request: HttpRequest, request_id: Any) -> HttpResponse:
    def approve(actor: Any, ip: str | None) -> Any:
        return access_request_approve(actor=actor, request_id=request_id, ip=ip)

    _decision(request, approve, "Approved {who}'s {permission} of {name}: the grant ends {end}.")
    return redirect("credentials:review-requests")


@login_required
@require_POST
def access_request_deny_page(request: HttpRequest, request_id: Any) -> HttpResponse:
    form = DenyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why you deny it: the requester reads it.")
        return redirect("credentials:review-requests")

    def deny(actor: Any, ip: str | None) -> Any:
        return access_request_deny(actor=actor, request_id=request_id, reason=form.cleaned_data["reason"], ip=ip)

    _decision(request, deny, "Denied {who}'s request for {permission} of {name}; they will read why.")
    return redirect("credentials:review-requests")


def _decision(request: HttpRequest, act: Any, said: str) -> None:
    """Run one step on a request and say how it went, as the services answer: a request the user may not see is
    a 404; one they see but may not decide (their own, or not theirs to approve) a 403; a closed one an error."""
    try:
        done = act(signed_in(request.user), client_ip(request))
    except AccessRequestNotFound:
        raise Http404("Access request not found.") from None
    except CredentialPermissionDenied as exc:
        raise PermissionDenied(str(exc)) from None
    except AccessRequestClosed as exc:
        messages.error(request, str(exc))
    except InvalidCredential as exc:
        messages.error(request, " ".join(m for problems in exc.errors.values() for m in problems))
    else:
        # No end: the requester already held it without one, and approving leaves that as it was.
        end = when(done.grant_expires_at) if done.grant_expires_at else "never (it was already held without an end)"
        facts = {"who": done.requester.get_username(), "permission": done.permission, "name": done.credential.name}
        messages.success(request, said.format(end=end, **facts))


def when(moment: datetime) -> str:
    """A time as the pages say it: in the site's time zone (settings.TIME_ZONE), named."""
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M %Z}"


@login_required
@require_POST
def requestable_settings_page(request: HttpRequest, pk: Any) -> HttpResponse:
    credential, allowed = visible_credential(request, pk)
    require(allowed, SHARE, "Only those who may share it say who may request it.")
    form = RequestableForm(request.POST)
    if form.is_valid():
        who = form.cleaned_data["who"]
        try:
            credential_set_requestable(
                actor=signed_in(request.user),
                credential_id=credential.pk,
                group=form.cleaned_data["group"] if who == "group" else None,
                everyone=who == "everyone",
                max_access_hours=form.cleaned_data["max_access_hours"],
                ip=client_ip(request),
            )
        except InvalidCredential as exc:
            messages.error(request, " ".join(m for problems in exc.errors.values() for m in problems))
        else:
            group = form.cleaned_data["group"]
            who_said = {"nobody": "nobody", "everyone": "everyone signed in"}.get(who) or f"members of {group}"
            messages.success(request, f"Saved who may request access: {who_said}.")
    else:
        messages.error(request, " ".join(str(m) for problems in form.errors.values() for m in problems))
    return redirect("credentials:shares", pk=credential.pk)


def requestable_form_for(credential: Credential) -> RequestableForm:
    """The share page's form, showing the credential's current answer."""
    who = "everyone" if credential.requestable_by_everyone else "group" if credential.requestable_by_id else "nobody"
    group = credential.requestable_by.name if credential.requestable_by is not None else None
    return RequestableForm(initial={"who": who, "group": group, "max_access_hours": credential.max_access_hours})
