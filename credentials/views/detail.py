"""One credential's page: what it is, where it may go, its secrets, who shares it, what used it, its history."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from credentials.models import Credential, VersionOrigin
from credentials.permissions import SHARE, VIEW
from credentials.selectors import (
    VersionFacts,
    credential_audit_events_for_user,
    credential_shares_for_user,
    credential_usage_for_user,
    credential_versions_for_user,
)
from credentials.teams import team_access
from credentials.testers.runs import is_flagged
from credentials.versions.recording import versions_kept
from credentials.views.common import icon_of, visible_credential

RECENT_EVENTS = 20


def field_rows(credential: Credential) -> list[dict[str, Any]]:
    """The type's fields in schema order: a non-secret one with its clear value, a secret one only as set or not."""
    rows = []
    for spec in credential.type.spec.fields:
        if spec.type == "hidden":
            continue
        if spec.secret:
            rows.append({"label": spec.label, "secret": True, "is_set": spec.name in credential.secrets_set})
        elif spec.name in credential.public_fields:
            rows.append({"label": spec.label, "secret": False, "value": credential.public_fields[spec.name]})
    return rows


def version_rows(versions: list[VersionFacts]) -> list[dict[str, Any]]:
    """The history's rows, newest first: each version's facts and its origin in words."""
    labels = dict(VersionOrigin.choices)
    return [{"facts": facts, "origin": labels.get(facts.origin, facts.origin)} for facts in versions]


@login_required
@require_safe
def credential_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    credential, allowed = visible_credential(request, pk)
    context: dict[str, Any] = {
        "credential": credential,
        "allowed": allowed,
        "icon": icon_of(credential.type.icon),
        "can_view": VIEW in allowed,
        "flagged": is_flagged(credential.test_failures),
    }
    # *use* alone shows what the list shows; the rest needs *view* (share, for who it is shared with).
    if VIEW in allowed:
        usage = credential_usage_for_user(request.user, credential=credential)
        context.update(
            fields=field_rows(credential),
            usage=usage,
            # Each plugin links to its page only for a viewer who may open it ("visible").
            plugin_usage=usage.get("plugins", []),
            events=list(credential_audit_events_for_user(request.user, credential=credential)[:RECENT_EVENTS]),
            versions=version_rows(credential_versions_for_user(request.user, credential=credential)),
            versions_kept=versions_kept(credential),
        )
    if VIEW in allowed or SHARE in allowed:
        context["shares"] = credential_shares_for_user(request.user, credential=credential)
        context["team"] = team_access(credential)
    return render(request, "credentials/detail.html", context)
