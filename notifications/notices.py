"""What each raised domain event announces: one notice per credential and event, with whom it is addressed to.

A notice reaches the credential's owner and its team's managers (``to_owners``), the people it is
addressed to (``addressed``: the requester of a decision, the holders of a grant that ends, the
administrators of a broken audit trail), and whoever subscribed to every credential they may see.
Facts are names, numbers and times, never a value.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from credentials.expiry import notices_of_sweep, notices_prune
from credentials.models import TeamManagerPermission
from credentials.permissions import MANAGE_TEAM
from notifications.kinds import EventKind
from notifications.models import RaisedEvent, WebhookEndpoint
from plugins.models import Plugin


@dataclass
class Notice:
    event: str
    credential_id: uuid.UUID | None
    facts: dict[str, Any] = field(default_factory=dict)
    addressed: set[int] = field(default_factory=set)
    to_owners: bool = True


Facts = dict[str, Any]


def notices_of(raised: RaisedEvent) -> list[Notice]:
    reader = _READERS.get(raised.signal)
    return reader(raised.facts) if reader is not None else []


def _credential_id(facts: Facts) -> uuid.UUID | None:
    value = facts.get("credential_id")
    return uuid.UUID(str(value)) if value else None


def _expiry(facts: Facts) -> list[Notice]:
    noticed_at = datetime.fromisoformat(facts["noticed_at"])
    notices = [
        Notice(EventKind.EXPIRED if days == 0 else EventKind.EXPIRING, credential_id,
               {"days": days, "expires_at": expires_at.isoformat()})
        for credential_id, days, expires_at in notices_of_sweep(noticed_at)
    ]  # fmt: skip
    notices_prune()  # here, in the worker, off the sweep's path
    return notices


def _simple(event: str, *keys: str) -> Callable[[Facts], list[Notice]]:
    def read(facts: Facts) -> list[Notice]:
        return [Notice(event, _credential_id(facts), {key: facts.get(key) for key in keys})]

    return read


def _names(user_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {pk for pk in user_ids if pk is not None}
    return dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username")) if ids else {}


def _grantees(facts: Facts) -> tuple[str, set[int]]:
    """The grantee's name, and the users it stands for (a user, or a group's members)."""
    grantee_id: int = facts.get("grantee_id") or 0
    if facts.get("grantee") == "group":
        group = Group.objects.filter(pk=grantee_id).first()
        members = set(group.user_set.values_list("pk", flat=True)) if group else set()
        return (group.name if group else "a removed group"), members
    return _names([grantee_id]).get(grantee_id, "a removed user"), {grantee_id} if grantee_id else set()


def _sharing(event: str) -> Callable[[Facts], list[Notice]]:
    def read(facts: Facts) -> list[Notice]:
        name, people = _grantees(facts)
        shown = {"grantee": facts.get("grantee"), "grantee_name": name, "permissions": facts.get("permissions", [])}
        if facts.get("expires_at"):
            shown["expires_at"] = facts["expires_at"]
        # A user given access hears of it; one whose access was taken may no longer see the credential.
        addressed = people if facts.get("grantee") == "user" and event == EventKind.SHARED else set()
        return [Notice(event, _credential_id(facts), shown, addressed=addressed)]

    return read


def _requested(facts: Facts) -> list[Notice]:
    requester = _names([facts.get("requester_id")]).get(facts.get("requester_id") or 0, "someone")
    shown = {"request_id": facts.get("request_id"), "requester": requester, "permission": facts.get("permission"),
             "hours": facts.get("hours")}  # fmt: skip
    return [Notice(EventKind.ACCESS_REQUESTED, _credential_id(facts), shown)]  # to who approves: owner, managers


def _decided(facts: Facts) -> list[Notice]:
    event = {"approved": EventKind.ACCESS_APPROVED, "denied": EventKind.ACCESS_DENIED}.get(facts.get("status", ""))
    if event is None:  # cancelled by the requester, or expired unanswered: nobody waits to hear
        return []
    requester_id = facts.get("requester_id")
    shown = {"request_id": facts.get("request_id"), "requester": _names([requester_id]).get(requester_id or 0, ""),
             "permission": facts.get("permission"), "hours": facts.get("hours"),
             "grant_expires_at": facts.get("grant_expires_at")}  # fmt: skip
    return [Notice(event, _credential_id(facts), shown, addressed={requester_id} if requester_id else set(),
                   to_owners=False)]  # fmt: skip


def _grant_ending(facts: Facts) -> list[Notice]:
    name, people = _grantees(facts)
    shown = {"grantee": facts.get("grantee"), "grantee_name": name, "permission": facts.get("permission"),
             "expires_at": facts.get("expires_at")}  # fmt: skip
    return [Notice(EventKind.GRANT_ENDING, _credential_id(facts), shown, addressed=people, to_owners=False)]


def _sync_failed(facts: Facts) -> list[Notice]:
    plugin = Plugin.objects.filter(pk=str(facts.get("plugin_id"))).values("pk", "name", "owner_id").first()
    if plugin is None:
        return []
    shown = {"plugin_id": str(plugin["pk"]), "plugin_name": plugin["name"]}
    # The plugin's owner, who registered it; the credential's people only if they subscribed to all they see.
    return [Notice(EventKind.PLUGIN_SYNC_FAILED, _credential_id(facts), shown, addressed={plugin["owner_id"]},
                   to_owners=False)]  # fmt: skip


def _verification_failed(facts: Facts) -> list[Notice]:
    admins = set(get_user_model().objects.filter(is_superuser=True, is_active=True).values_list("pk", flat=True))
    shown = {"breaks": facts.get("breaks"), "first": facts.get("first", "")}
    return [Notice(EventKind.AUDIT_VERIFICATION_FAILED, None, shown, addressed=admins, to_owners=False)]


def _webhook_disabled(facts: Facts) -> list[Notice]:
    """To the endpoint's owners: its person, its team's managers, or the administrators for a global one."""
    endpoint = WebhookEndpoint.objects.filter(pk=str(facts.get("endpoint_id"))).first()
    if endpoint is None:
        return []
    owners: set[int]
    if endpoint.user_id is not None:
        owners = {endpoint.user_id}
    elif endpoint.team_id is not None:
        owners = set(
            TeamManagerPermission.objects.filter(
                content_object_id=endpoint.team_id, permission__codename=MANAGE_TEAM
            ).values_list("user_id", flat=True)
        )
    else:
        owners = set(get_user_model().objects.filter(is_superuser=True, is_active=True).values_list("pk", flat=True))
    shown = {"endpoint_id": str(endpoint.pk), "endpoint_name": endpoint.name, "reason": facts.get("reason", "")}
    return [Notice(EventKind.WEBHOOK_DISABLED, None, shown, addressed=owners, to_owners=False)]


_READERS: dict[str, Callable[[Facts], list[Notice]]] = {
    "expiry_reached": _expiry,
    "test_failing": _simple(EventKind.TEST_FAILING, "failures"),
    "test_recovered": _simple(EventKind.TEST_RECOVERED, "failures"),
    "secret_changed": _simple(EventKind.SECRET_CHANGED, "version", "changed_fields"),
    "rolled_back": _simple(EventKind.ROLLED_BACK, "version", "restored_from"),
    "shared": _sharing(EventKind.SHARED),
    "unshared": _sharing(EventKind.UNSHARED),
    "access_requested": _requested,
    "access_decided": _decided,
    "grant_ending": _grant_ending,
    "sync_failed": _sync_failed,
    "verification_failed": _verification_failed,
    "webhook_disabled": _webhook_disabled,
}
