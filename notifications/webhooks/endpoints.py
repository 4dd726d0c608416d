"""Writes about webhook endpoints: create (the secret shown once), change, rotate the secret, delete, send a test event.

A person manages their own endpoints; a team's managers manage the team's; administrators
(superusers) make global ones and manage every one. Every change is audited, without the secret.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from audit.models import AuditAction
from audit.services import audit_record
from config.actors import Actor
from credentials.permissions import user_manages_team
from notifications.errors import InvalidNotificationInput, TestEventsThrottled
from notifications.kinds import SUBSCRIBABLE, EventKind
from notifications.models import Channel, Delivery, WebhookEndpoint
from notifications.selectors import endpoint_for_user
from notifications.webhooks.secrets import new_secret, seal_secret
from notifications.webhooks.urls import url_errors

SERVICE = "webhooks"
MINUTE = timedelta(minutes=1)
MAX_NAME = 200


@dataclass(frozen=True)
class MadeEndpoint:
    """An endpoint and its signing secret, which its maker sees in this answer and never again."""

    endpoint: WebhookEndpoint
    secret: str


@sensitive_variables("secret")
def endpoint_create(
    *,
    actor: Actor,
    name: str,
    url: str,
    events: list[str] | None = None,
    team: Group | None = None,
    is_global: bool = False,
    ip: str | None = None,
) -> MadeEndpoint:
    """A new endpoint: the actor's own, ``team``'s (its managers only) or global (administrators only)."""
    errors = _input_errors(name, url, events)
    if team is not None and is_global:
        errors["team"] = ["An endpoint is a team's or global, not both."]
    elif team is not None and not user_manages_team(actor, team):
        errors["team"] = ["Only the team's managers may add an endpoint for it."]
    elif is_global and not actor.is_superuser:
        errors["is_global"] = ["Only administrators may add a global endpoint."]
    user_id = None if team or is_global else actor.pk
    with transaction.atomic():
        # Each owner's count is a ceiling on what one person can make every event cost.
        mine = Q(user_id=actor.pk) if user_id is not None else Q(user__isnull=True)
        same_owner = WebhookEndpoint.objects.filter(mine, team=team, is_global=is_global).select_for_update()
        if len(same_owner) >= settings.WEBHOOK_ENDPOINTS_PER_OWNER:
            errors.setdefault("name", []).append(
                f"There are already {settings.WEBHOOK_ENDPOINTS_PER_OWNER} endpoints here; remove one first."
            )
        if errors:
            raise InvalidNotificationInput(errors)
        endpoint = WebhookEndpoint(
            id=uuid.uuid4(), name=name.strip(), url=url.strip(), events=sorted(set(events or [])),
            created_by=actor, user_id=user_id, team=team, is_global=is_global,
        )  # fmt: skip
        secret = new_secret()
        seal_secret(endpoint, secret)
        endpoint.save(force_insert=True)
        audit_record(action=AuditAction.WEBHOOK_CREATED, actor=actor, ip=ip, service=SERVICE,
                     details=_described(endpoint))  # fmt: skip
    return MadeEndpoint(endpoint, secret)


def endpoint_update(
    *, actor: Actor, endpoint_id: Any, changes: dict[str, Any], ip: str | None = None
) -> WebhookEndpoint:
    """Change name, url, events or is_active; turning an endpoint on again forgives its failures."""
    unknown = sorted(set(changes) - {"name", "url", "events", "is_active"})
    if unknown:
        raise InvalidNotificationInput({name: ["This cannot be changed."] for name in unknown})
    with transaction.atomic():
        endpoint = _locked(actor, endpoint_id)
        name = changes.get("name", endpoint.name)
        url = changes.get("url", endpoint.url)
        errors = _input_errors(name, url, changes.get("events", endpoint.events))
        if "is_active" in changes and not isinstance(changes["is_active"], bool):
            errors["is_active"] = ["Must be true or false."]
        if errors:
            raise InvalidNotificationInput(errors)
        before = _described(endpoint)
        endpoint.name, endpoint.url = name.strip(), url.strip()
        endpoint.events = sorted(set(changes.get("events", endpoint.events)))
        if changes.get("is_active") is True and not endpoint.is_active:
            endpoint.is_active, endpoint.failures, endpoint.disabled_at, endpoint.disabled_reason = True, 0, None, ""
        elif changes.get("is_active") is False:
            endpoint.is_active = False
        endpoint.updated_at = timezone.now()
        endpoint.save()
        after = _described(endpoint)
        changed = {key: {"old": before[key], "new": after[key]} for key in after if before[key] != after[key]}
        if changed:
            audit_record(action=AuditAction.WEBHOOK_CHANGED, actor=actor, ip=ip, service=SERVICE,
                         details={"endpoint": str(endpoint.pk), "changes": changed})  # fmt: skip
    return endpoint


@sensitive_variables("secret")
def endpoint_rotate_secret(*, actor: Actor, endpoint_id: Any, ip: str | None = None) -> MadeEndpoint:
    """A new signing secret (the old one stops at once), shown once."""
    with transaction.atomic():
        endpoint = _locked(actor, endpoint_id)
        endpoint.secret_number += 1
        secret = new_secret()
        seal_secret(endpoint, secret)
        endpoint.updated_at = timezone.now()
        endpoint.save(update_fields=["secret_number", "ciphertext", "key_id", "updated_at"])
        audit_record(action=AuditAction.WEBHOOK_CHANGED, actor=actor, ip=ip, service=SERVICE,
                     details={"endpoint": str(endpoint.pk), "secret_rotated": endpoint.secret_number})  # fmt: skip
    return MadeEndpoint(endpoint, secret)


def endpoint_delete(*, actor: Actor, endpoint_id: Any, ip: str | None = None) -> None:
    with transaction.atomic():
        endpoint = _locked(actor, endpoint_id)
        details = _described(endpoint)
        endpoint.delete()
        audit_record(action=AuditAction.WEBHOOK_DELETED, actor=actor, ip=ip, service=SERVICE, details=details)


def endpoint_send_test(*, actor: Actor, endpoint_id: Any) -> Delivery:
    """Queue a test event to the endpoint (on commit), whatever events it takes; its attempts join the log."""
    from notifications.fanout import queue_deliveries

    with transaction.atomic():
        endpoint = _locked(actor, endpoint_id)
        if not endpoint.is_active:
            raise InvalidNotificationInput({"is_active": ["Turn the endpoint on before sending it a test event."]})
        now = timezone.now()
        # Each test makes a worker connect to the endpoint's URL: a ceiling on what one person can ask of it.
        recent = Delivery.objects.filter(endpoint=endpoint, event=EventKind.WEBHOOK_TEST, created_at__gt=now - MINUTE)
        if recent.count() >= settings.WEBHOOK_TESTS_PER_MINUTE:
            raise TestEventsThrottled(settings.WEBHOOK_TESTS_PER_MINUTE)
        delivery = Delivery.objects.create(
            event=EventKind.WEBHOOK_TEST, channel=Channel.WEBHOOK, endpoint=endpoint, occurred_at=now,
            payload={"type": EventKind.WEBHOOK_TEST.value, "timestamp": now.isoformat(),
                     "data": {"endpoint": {"id": str(endpoint.pk), "name": endpoint.name},
                              "requested_by": actor.get_username()}},
        )  # fmt: skip
        transaction.on_commit(lambda: queue_deliveries([(delivery.pk, Channel.WEBHOOK)]))
    return delivery


def _locked(actor: Actor, endpoint_id: Any) -> WebhookEndpoint:
    """The endpoint locked, if ``actor`` manages it; EndpointNotFound (404) otherwise, or once it is gone."""
    return endpoint_for_user(actor, endpoint_id, lock=True)


def _input_errors(name: Any, url: Any, events: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(name, str) or not name.strip():
        errors["name"] = ["Give the endpoint a name."]
    elif len(name.strip()) > MAX_NAME:
        errors["name"] = [f"Use at most {MAX_NAME} characters."]
    if not isinstance(url, str) or not url.strip():
        errors["url"] = ["Enter the URL to send events to."]
    elif problems := url_errors(url.strip()):
        errors["url"] = problems
    if events is not None and (
        not isinstance(events, list) or any(not isinstance(e, str) or e not in SUBSCRIBABLE for e in events)
    ):
        errors["events"] = [f"A list of: {', '.join(SUBSCRIBABLE)} (empty for every event)."]
    return errors


def _described(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What an audit event says of an endpoint: never its secret."""
    return {
        "endpoint": str(endpoint.pk), "name": endpoint.name, "url": endpoint.url, "scope": endpoint.scope,
        "team": endpoint.team.name if endpoint.team else None, "events": list(endpoint.events),
        "is_active": endpoint.is_active,
    }  # fmt: skip
