"""What an audit event's MAC covers: a canonical JSON body, stored as text beside the columns it repeats.

The MAC is computed over the stored text itself, which the database returns byte for byte, never
over a value re-encoded from jsonb (which rewrites numbers: 1e16 comes back as 10000000000000000,
-0.0 as 0.0). Verification then checks that the queryable columns still say what the body says,
comparing numbers by value, so honest data never raises a false alarm.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

BODY_VERSION = 1
EVENT_DOMAIN = b"latchkey audit event v1\n"


def normalise_ip(ip: str | None) -> str | None:
    """The address as PostgreSQL returns it, so that the columns and the body agree."""
    if not ip:
        return None
    address = ipaddress.ip_address(ip)
    # PostgreSQL writes ::ffff:10.0.0.1 where Python writes ::ffff:a00:1; keep the IPv4 form.
    return str(getattr(address, "ipv4_mapped", None) or address)


def event_body(
    *,
    uid: str,
    created_at: datetime,
    action: str,
    actor: str,
    credential: str,
    credential_name: str,
    ip: str | None,
    service: str,
    fields: list[str],
    details: dict[str, Any],
) -> str:
    """The canonical body: sorted keys, no spaces, ASCII only (a lone surrogate survives as an escape).

    NaN and infinities are refused (ValueError): JSON has no spelling for them.
    """
    content = {
        "v": BODY_VERSION,
        "uid": uid,
        "created_at": created_at.astimezone(UTC).isoformat(),
        "action": action,
        "actor": actor,
        "credential": credential,
        "credential_name": credential_name,
        "ip": ip,
        "service": service,
        "fields": fields,
        "details": details,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def body_of(event: Any) -> str:
    """The canonical body of an audit event as its columns hold it (also a migration's historical row)."""
    return event_body(
        uid=str(event.uid),
        created_at=event.created_at,
        action=str(event.action),
        actor=event.actor_repr,
        credential=event.credential_ref,
        credential_name=event.credential_name,
        ip=event.ip,
        service=event.service,
        fields=list(event.fields),
        details=event.details,
    )


def mac_message(body: str) -> bytes:
    return EVENT_DOMAIN + body.encode("ascii")


def _by_value(text: str) -> Any:
    # Decimal for every number: 1e16 equals 10000000000000000 and -0.0 equals 0.0, exactly.
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def columns_disagree(body: str, row: dict[str, Any]) -> list[str]:
    """The columns of ``row`` that no longer say what ``body`` says (empty when all agree).

    ``row`` holds the columns as read: ``fields_json`` and ``details_json`` as the database's own
    JSON text, ``created_at`` as a datetime.
    """
    try:
        content = _by_value(body)
    except ValueError:
        return ["body"]
    if not isinstance(content, dict) or content.get("v") != BODY_VERSION:
        return ["body"]
    wrong = [
        name
        for name, column in (
            ("uid", "uid"),
            ("action", "action"),
            ("actor", "actor_repr"),
            ("credential", "credential_ref"),
            ("credential_name", "credential_name"),
            ("service", "service"),
        )
        if content.get(name) != str(row[column])
    ]
    if content.get("ip") != normalise_ip(row["ip"]):
        wrong.append("ip")
    try:
        if datetime.fromisoformat(str(content.get("created_at"))) != row["created_at"]:
            wrong.append("created_at")
    except ValueError:
        wrong.append("created_at")
    for name in ("fields", "details"):
        if content.get(name) != _by_value(row[f"{name}_json"]):
            wrong.append(name)
    return wrong
