"""My credentials: the ones I own and the ones shared with me, filtered, with what I may do to each."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from credentials.forms.filters import CredentialFilterForm
from credentials.permissions import actions_for
from credentials.selectors import credential_list_for_user, credential_type_list
from credentials.testers.runs import is_flagged
from credentials.views.common import icon_of

PAGE_SIZE = 50
# A credential this close to its expiry is flagged in the list.
EXPIRY_WARNING_DAYS = 14


@login_required
@require_safe
def credential_list(request: HttpRequest) -> HttpResponse:
    filters = CredentialFilterForm(request.GET or None, credential_types=credential_type_list())
    queryset = credential_list_for_user(request.user, **filters.selector_arguments()).order_by(
        "name", "environment", "pk"
    )
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [
        {
            "credential": credential,
            "icon": icon_of(credential.type.icon),
            "actions": actions_for(request.user, credential),
            "flagged": is_flagged(credential.test_failures),
            "expired": credential.expires_at is not None and credential.expires_at <= now,
            "expiring": credential.expires_at is not None
            and now < credential.expires_at <= now + timedelta(days=EXPIRY_WARNING_DAYS),
        }
        for credential in page
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "credentials/list.html",
        {"filters": filters, "page": page, "rows": rows, "query": query.urlencode()},
    )
