"""One's subscriptions: for each event, for which credentials, by e-mail (each or digest) and to one's webhooks."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from config.actors import Actor, signed_in
from notifications.errors import InvalidNotificationInput
from notifications.forms import SubscriptionRowForm, initial_of
from notifications.kinds import SUBSCRIBABLE
from notifications.selectors import Choice, subscriptions_for_user
from notifications.services import subscription_set, subscriptions_reset

Row = tuple[Choice, SubscriptionRowForm]


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def subscriptions_page(request: HttpRequest) -> HttpResponse:
    actor = signed_in(request.user)
    data = request.POST if request.method == "POST" else None
    rows: list[Row] = [
        (choice, SubscriptionRowForm(data, prefix=choice.event, initial=initial_of(choice.preference)))
        for choice in subscriptions_for_user(actor)
    ]
    status = 200
    if request.method == "POST":
        valid = [form.is_valid() for _, form in rows]  # every row, so that each shows its own errors
        changed = _saved(actor, rows) if all(valid) else None
        if changed is not None:
            said = f"Saved your choices for {changed} event(s)." if changed else "Nothing changed."
            messages.success(request, said)
            return redirect("notifications:settings")
        status = 400
    context = {"rows": rows, "invalid": status == 400}
    return render(request, "notifications/settings.html", context, status=status)


def _saved(actor: Actor, rows: list[Row]) -> int | None:
    """Save each row that differs from what holds now; the number saved, or None (nothing kept) if one is refused.

    A row left as it stands is not written, so an event still at its default keeps following the default.
    """
    changed = [(choice, form) for choice, form in rows if form.preference() != choice.preference]
    refused = False
    # One page, one save: a refused row leaves every row as it was.
    with transaction.atomic():
        for choice, form in changed:
            wanted = form.preference()
            try:
                subscription_set(
                    actor=actor, event=choice.event, scope=wanted.scope, email=wanted.email, webhook=wanted.webhook
                )
            except InvalidNotificationInput as exc:
                form.add_service_errors(exc)
                refused = True
        if refused:
            transaction.set_rollback(True)
    return None if refused else len(changed)


@login_required
@require_POST
def subscriptions_reset_page(request: HttpRequest) -> HttpResponse:
    actor = signed_in(request.user)
    subscriptions_reset(actor=actor, events=SUBSCRIBABLE)
    messages.success(request, "Every event is back to its default.")
    return redirect("notifications:settings")
