"""Fan-out (in a worker): a raised event's notices become deliveries, each to someone who may see what it is about.

Who: the notice's owners and addressees, and those subscribed to every credential they may see,
each by their own choice of channel (notifications.kinds.DEFAULTS without one); then the endpoints
of the credential's team and the global ones that take the event. Nobody hears of a credential they
may not see (an addressee may also know of one they may request). Payloads hold clear columns only.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from config.actors import Actor
from credentials.access.rules import discoverable
from credentials.models import Credential, TeamManagerPermission
from credentials.permissions import MANAGE_TEAM, user_can_see
from notifications.kinds import DEFAULTS, WITHOUT_CREDENTIAL, EmailMode, EventKind, Preference, Scope
from notifications.models import Channel, Delivery, DeliveryStatus, RaisedEvent, Subscription, WebhookEndpoint
from notifications.notices import Notice, notices_of

# A raised event whose fan-out message was lost (the broker was down) is picked up after this long;
# a delivery never tried, after longer (its worker may only be busy).
WAITING_AFTER = timedelta(seconds=30)
REQUEUE_AFTER = timedelta(minutes=10)
logger = logging.getLogger(__name__)


def fan_out(raised_id: int) -> int:
    """Make the deliveries of one raised event, once (a message delivered twice finds it done); return how many."""
    with transaction.atomic():
        raised = (
            RaisedEvent.objects.select_for_update(skip_locked=True)
            .filter(pk=raised_id, fanned_out_at__isnull=True)
            .first()
        )
        if raised is None:
            return 0
        deliveries = plan(notices_of(raised), occurred_at=raised.raised_at, raised=raised)
        Delivery.objects.bulk_create(deliveries)
        raised.fanned_out_at = timezone.now()
        raised.save(update_fields=["fanned_out_at"])
        ids = [(delivery.pk, delivery.channel) for delivery in deliveries]
        transaction.on_commit(lambda: queue_deliveries(ids))
    return len(deliveries)


def fan_out_waiting() -> int:
    """Fan out the events whose message never came (beat, every minute); return how many."""
    cutoff = timezone.now() - WAITING_AFTER
    waiting = RaisedEvent.objects.filter(fanned_out_at__isnull=True, raised_at__lte=cutoff).order_by("pk")
    ids = list(waiting.values_list("pk", flat=True)[:500])
    for raised_id in ids:
        fan_out(raised_id)
    return len(ids)


def queue_deliveries(ids: Iterable[tuple[uuid.UUID, str]]) -> None:
    """Queue each delivery's task; if the broker cannot take them, they wait for ``requeue_waiting``."""
    from notifications.tasks import deliver_webhook_task, send_email_task

    try:
        for pk, channel in ids:
            if channel == Channel.EMAIL:
                send_email_task.delay(str(pk))
            elif channel == Channel.WEBHOOK:
                deliver_webhook_task.delay(str(pk))
    except (OperationalError, OSError) as exc:
        # The broker's URL may hold its password: the kind of failure only.
        logger.warning("Could not queue deliveries: %s; the beat queues them again", type(exc).__name__)


def requeue_waiting() -> int:
    """Queue again the deliveries never tried whose message was lost (beat, every minute); return how many."""
    cutoff = timezone.now() - REQUEUE_AFTER
    waiting = Delivery.objects.filter(
        status=DeliveryStatus.PENDING, attempts=0, created_at__lte=cutoff, channel__in=(Channel.EMAIL, Channel.WEBHOOK)
    ).order_by("created_at")
    rows = list(waiting.values_list("pk", "channel")[:1000])
    queue_deliveries(rows)
    return len(rows)


def payload(notice: Notice, credential: Credential | None, occurred_at: datetime) -> dict[str, Any]:
    """What a delivery sends (Standard Webhooks' type, timestamp and data): names, numbers, times."""
    data: dict[str, Any] = {}
    if credential is not None:
        data["credential"] = {
            "id": str(credential.pk),
            "name": credential.name,
            "type": credential.type.slug,
            "environment": credential.environment,
            "owner": credential.owner.get_username(),
            "expires_at": credential.expires_at.isoformat() if credential.expires_at else None,
        }
    data.update(notice.facts)
    return {"type": notice.event, "timestamp": occurred_at.isoformat(), "data": data}


class _Audience:
    """Everything the plan needs about the people and endpoints of a batch of notices, read in a few queries."""

    def __init__(self, notices: list[Notice]):
        ids = {notice.credential_id for notice in notices if notice.credential_id}
        self.credentials = {c.pk: c for c in Credential.objects.filter(pk__in=ids).select_related("type", "owner")}
        teams = {c.team_id for c in self.credentials.values() if c.team_id}
        self.managers: dict[int, set[int]] = defaultdict(set)
        rows = TeamManagerPermission.objects.filter(
            content_object_id__in=teams, permission__codename=MANAGE_TEAM
        ).values_list("content_object_id", "user_id")
        for team_id, user_id in rows:
            self.managers[team_id].add(user_id)
        events = {notice.event for notice in notices}
        self.watchers: dict[str, set[int]] = defaultdict(set)
        for user_id, event in Subscription.objects.filter(event__in=events, scope=Scope.VISIBLE).values_list(
            "user_id", "event"
        ):
            self.watchers[event].add(user_id)
        people = {uid for notice in notices for uid in self.mine(notice)} | {
            uid for event in events for uid in self.watchers[event]
        }
        self.users = {user.pk: user for user in get_user_model().objects.filter(pk__in=people, is_active=True)}
        self.preferences = {
            (s.user_id, s.event): Preference(s.scope, s.email, s.webhook)
            for s in Subscription.objects.filter(user_id__in=self.users, event__in=events)
        }
        self.endpoints = list(
            WebhookEndpoint.objects.filter(is_active=True).filter(
                Q(user_id__in=self.users) | Q(team_id__in=teams) | Q(is_global=True)
            )
        )

    def credential(self, notice: Notice) -> Credential | None:
        return self.credentials.get(notice.credential_id) if notice.credential_id else None

    def mine(self, notice: Notice) -> set[int]:
        """Whom the notice is for without their asking: its addressees, and the credential's owner and managers."""
        people = set(notice.addressed)
        credential = self.credentials.get(notice.credential_id) if notice.credential_id else None
        if notice.to_owners and credential is not None:
            people |= {credential.owner_id, *self.managers.get(credential.team_id or 0, set())}
        return people

    def preference(self, user_id: int, event: str) -> Preference:
        return self.preferences.get((user_id, event), DEFAULTS[event])


def plan(notices: list[Notice], *, occurred_at: datetime, raised: RaisedEvent | None) -> list[Delivery]:
    """The (unsaved) deliveries of ``notices``: one per person and channel, one per endpoint."""
    audience = _Audience(notices)
    deliveries: list[Delivery] = []
    for notice in notices:
        credential = audience.credential(notice)
        if notice.credential_id and credential is None and notice.event not in WITHOUT_CREDENTIAL:
            continue  # deleted since: nobody may see it now
        body = payload(notice, credential, occurred_at)

        common = {"raised": raised, "event": notice.event, "credential": credential, "payload": body,
                  "occurred_at": occurred_at}  # fmt: skip

        def delivery(channel: str, common: dict[str, Any] = common, **to: Any) -> Delivery:
            return Delivery(channel=channel, **common, **to)

        endpoints: set[uuid.UUID] = set()
        for user_id, preference in _people(notice, credential, audience):
            user = audience.users[user_id]
            if preference.email != EmailMode.OFF and user.email:
                deliveries.append(delivery(Channel.DIGEST if preference.email == EmailMode.DIGEST else Channel.EMAIL,
                                           user=user))  # fmt: skip
            if preference.webhook and notice.event != EventKind.WEBHOOK_DISABLED:
                endpoints |= {e.pk for e in audience.endpoints if e.user_id == user_id and e.accepts(notice.event)}
        if notice.event != EventKind.WEBHOOK_DISABLED:
            team_id = credential.team_id if credential is not None else None
            endpoints |= {
                e.pk for e in audience.endpoints
                if (e.is_global or (team_id and e.team_id == team_id)) and e.accepts(notice.event)
            }  # fmt: skip
        deliveries += [delivery(Channel.WEBHOOK, endpoint_id=pk) for pk in sorted(endpoints)]
    return deliveries


def _people(notice: Notice, credential: Credential | None, audience: _Audience) -> list[tuple[int, Preference]]:
    mine = audience.mine(notice)
    chosen = []
    for user_id in sorted(mine | audience.watchers[notice.event]):
        user = audience.users.get(user_id)
        if user is None:
            continue
        preference = audience.preference(user_id, notice.event)
        if preference.is_off or (user_id not in mine and preference.scope != Scope.VISIBLE):
            continue
        if credential is not None and not _may_know(user, credential, addressed=user_id in notice.addressed):
            continue
        chosen.append((user_id, preference))
    return chosen


def _may_know(user: Actor, credential: Credential, *, addressed: bool) -> bool:
    """Whether ``user`` may hear about ``credential``: they may see it, or (told of their own request) request it."""
    if user_can_see(user, credential):
        return True
    return addressed and Credential.objects.filter(discoverable(user), pk=credential.pk).exists()
