"""Needs attention: how many credentials I may see are expired, expiring, failing, flagged, never tested, unused."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from credentials.attention import SECTIONS
from credentials.forms.attention import SECTION_LABELS, AttentionFilterForm
from credentials.permissions import actions_for
from credentials.selectors import ATTENTION_FLAGS, credentials_needing_attention_for_user
from credentials.views.common import icon_of

PAGE_SIZE = 50
# The badge each reason wears (the stylesheet's badge colours).
TONES = {"expired": "bad", "expiring": "warn", "failing": "bad", "flagged": "bad", "never_tested": "", "unused": "warn"}


@login_required
@require_safe
def credentials_attention_page(request: HttpRequest) -> HttpResponse:
    filters = AttentionFilterForm.from_query(request.GET)
    context: dict[str, Any] = {"filters": filters, "flag_after": settings.CREDENTIAL_TEST_FLAG_AFTER}
    if filters.is_valid():  # bad input is named beside its field, and nothing is counted or listed
        wanted = filters.selector_arguments()
        found = credentials_needing_attention_for_user(request.user, **wanted)
        page = Paginator(found.rows, PAGE_SIZE).get_page(request.GET.get("page"))
        windows = {"days": wanted["days"], "unused_days": wanted["unused_days"]}
        query = {**windows, **({"order": wanted["order"]} if wanted["order"] else {})}
        if wanted["section"]:
            query["section"] = wanted["section"]
        context |= {
            "section": wanted["section"],
            "windows": windows,
            "all_url": "?" + urlencode(windows),
            "counts": [
                {
                    "section": section,
                    "label": _label(section, windows),
                    "count": found.counts[section],
                    "url": "?" + urlencode({**windows, "section": section}),
                    "current": section == wanted["section"],
                }
                for section in SECTIONS
            ],
            "page": page,
            "rows": [_row(request, credential, windows) for credential in page],
            "query": urlencode(query),
        }
    return render(request, "credentials/attention.html", context)


def _label(section: str, windows: dict[str, int]) -> str:
    if section == "expiring":
        return f"Expiring within {windows['days']} days"
    if section == "unused":
        return f"Unused for {windows['unused_days']} days"
    return SECTION_LABELS[section]


def _row(request: HttpRequest, credential: Any, windows: dict[str, int]) -> dict[str, Any]:
    return {
        "credential": credential,
        "icon": icon_of(credential.type.icon),
        "actions": actions_for(request.user, credential),
        "reasons": [
            {"section": section, "label": _label(section, windows), "tone": TONES[section]}
            for section in SECTIONS
            if getattr(credential, ATTENTION_FLAGS[section])
        ],
    }
