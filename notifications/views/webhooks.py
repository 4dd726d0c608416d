"""Webhook endpoints on the site: list and create, settings and delivery log, test event, new secret, delete."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from config.actors import Actor, signed_in
from config.addresses import client_ip
from credentials.permissions import managed_teams
from notifications.errors import EndpointNotFound, InvalidNotificationInput
from notifications.forms import EndpointCreateForm, EndpointSettingsForm
from notifications.models import WebhookEndpoint
from notifications.selectors import delivery_log, endpoint_for_user, endpoints_for_user
from notifications.webhooks.endpoints import (
    MadeEndpoint,
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_update,
)

PAGE_SIZE = 50
LOG_ROWS = 100


def _managed(actor: Actor, pk: Any) -> WebhookEndpoint:
    """The endpoint if the actor manages it; 404 whether it is missing or someone else's (invariant 5)."""
    try:
        return endpoint_for_user(actor, pk)
    except EndpointNotFound:
        raise Http404("Webhook endpoint not found.") from None


def _teams_offered(actor: Actor) -> QuerySet[Group]:
    """The teams the owner list offers: those the actor manages (every team, for an administrator)."""
    if actor.is_superuser:
        return Group.objects.order_by("name")
    return Group.objects.filter(pk__in=managed_teams(actor)).order_by("name")


@sensitive_variables()  # every local: the context and the response hold the secret too
def _secret_shown(request: HttpRequest, made: MadeEndpoint, *, rotated: bool) -> HttpResponse:
    # The secret is in this response and nowhere else: not redirected through the session or the
    # messages framework, and not kept by any cache or the back button.
    context = {"endpoint": made.endpoint, "secret": made.secret, "rotated": rotated}
    response = render(request, "notifications/webhook_secret.html", context)
    add_never_cache_headers(response)
    return response


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
@sensitive_variables("made")
def webhook_list_page(request: HttpRequest) -> HttpResponse:
    actor = signed_in(request.user)
    form = EndpointCreateForm(
        request.POST if request.method == "POST" else None,
        teams=_teams_offered(actor),
        may_be_global=actor.is_superuser,
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                made = endpoint_create(
                    actor=actor,
                    name=data["name"],
                    url=data["url"],
                    events=data["events"],
                    ip=client_ip(request),
                    **data["owner"],
                )
            except InvalidNotificationInput as exc:
                form.add_service_errors(exc)
            else:
                return _secret_shown(request, made, rotated=False)
        status = 400
    endpoints = endpoints_for_user(actor).defer("ciphertext").order_by("name", "pk")
    page = Paginator(endpoints, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notifications/webhooks.html", {"form": form, "page": page}, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def webhook_detail_page(request: HttpRequest, pk: Any) -> HttpResponse:
    actor = signed_in(request.user)
    endpoint = _managed(actor, pk)
    initial = {"name": endpoint.name, "url": endpoint.url, "events": endpoint.events, "is_active": endpoint.is_active}
    form = EndpointSettingsForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            try:
                if changes:
                    endpoint_update(actor=actor, endpoint_id=endpoint.pk, changes=changes, ip=client_ip(request))
            except EndpointNotFound:  # deleted since the page was drawn
                raise Http404("Webhook endpoint not found.") from None
            except InvalidNotificationInput as exc:
                form.add_service_errors(exc)
            else:
                said = f"Saved “{form.cleaned_data['name']}”." if changes else "Nothing changed."
                messages.success(request, said)
                return redirect("notifications:webhook", pk=endpoint.pk)
        status = 400
    log = delivery_log(endpoint).defer("delivery__payload")[:LOG_ROWS]  # what was sent is never shown: not loaded
    context = {"endpoint": endpoint, "form": form, "log": log, "log_rows": LOG_ROWS}
    return render(request, "notifications/webhook_detail.html", context, status=status)


@login_required
@require_POST
def webhook_test_page(request: HttpRequest, pk: Any) -> HttpResponse:
    try:
        endpoint_send_test(actor=signed_in(request.user), endpoint_id=pk)
    except EndpointNotFound:
        raise Http404("Webhook endpoint not found.") from None
    except InvalidNotificationInput as exc:
        messages.error(request, " ".join(m for problems in exc.errors.values() for m in problems))
    else:
        messages.success(request, "Test event queued: its attempts appear in the delivery log below.")
    return redirect("notifications:webhook", pk=pk)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
@sensitive_variables("made")
def webhook_rotate_page(request: HttpRequest, pk: Any) -> HttpResponse:
    """GET asks first (no script confirms: the CSP forbids inline script); POST makes the new secret and shows it."""
    actor = signed_in(request.user)
    endpoint = _managed(actor, pk)
    if request.method == "POST":
        try:
            made = endpoint_rotate_secret(actor=actor, endpoint_id=endpoint.pk, ip=client_ip(request))
        except EndpointNotFound:
            raise Http404("Webhook endpoint not found.") from None
        return _secret_shown(request, made, rotated=True)
    return render(request, "notifications/webhook_rotate.html", {"endpoint": endpoint})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def webhook_delete_page(request: HttpRequest, pk: Any) -> HttpResponse:
    actor = signed_in(request.user)
    endpoint = _managed(actor, pk)
    if request.method == "POST":
        try:
            endpoint_delete(actor=actor, endpoint_id=endpoint.pk, ip=client_ip(request))
        except EndpointNotFound:
            raise Http404("Webhook endpoint not found.") from None
        messages.success(request, f"Webhook endpoint “{endpoint.name}” deleted, with its delivery log.")
        return redirect("notifications:webhooks")
    return render(request, "notifications/webhook_delete.html", {"endpoint": endpoint})
