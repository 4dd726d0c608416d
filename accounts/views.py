"""The account pages: one's own API tokens (list, create, revoke) beside Django's password change."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from accounts.errors import InvalidTokenRequest, TokenNotFound
from accounts.forms import TokenCreateForm
from accounts.selectors import api_token_list_for_user
from accounts.services import MAX_LIVE_TOKENS, api_token_create, api_token_revoke
from config.actors import signed_in
from config.addresses import client_ip


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
@sensitive_variables("issued")
def token_list_page(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = api_token_create(
                user=signed_in(request.user), name=form.cleaned_data["name"], ip=client_ip(request)
            )
        except InvalidTokenRequest as exc:
            form.add_service_errors(exc)
        else:
            # The value is shown in this response and nowhere else: not redirected through the
            # session or the messages framework, and not kept by any cache or the back button.
            response = render(request, "accounts/token_created.html", {"issued": issued})
            add_never_cache_headers(response)
            return response
    tokens = api_token_list_for_user(request.user)
    return render(request, "accounts/tokens.html", {"form": form, "tokens": tokens, "limit": MAX_LIVE_TOKENS})


@login_required
@require_POST
def token_revoke_page(request: HttpRequest, key: str) -> HttpResponse:
    try:
        name = api_token_revoke(user=signed_in(request.user), key=key, ip=client_ip(request))
    except TokenNotFound:
        raise Http404("No such token.") from None
    label = f"\u201c{name}\u201d ({key}\u2026)" if name else f"{key}\u2026"
    messages.success(request, f"Token {label} revoked: it no longer authenticates.")
    return redirect("accounts:tokens")
