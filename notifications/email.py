"""E-mail through Django's e-mail framework: one message per delivery, or a daily digest of a person's pending ones.

Bodies come from templates (plain text and HTML); the HTML escapes every name, which users choose.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from notifications.kinds import SENTENCES, EventKind
from notifications.models import Channel, Delivery, DeliveryStatus

SUBJECT_PREFIX = "[Latchkey] "
# A digest lists at most this many events; the rest wait for the next one.
DIGEST_MAX = 200


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def sentence(payload: Mapping[str, Any]) -> str:
    """The event in words, filled in from its payload's facts."""
    data = payload.get("data", {})
    facts = _Blank(
        {key: ", ".join(map(str, value)) if isinstance(value, list) else value for key, value in data.items()}
    )
    facts["changed"] = facts.get("changed_fields", "")
    facts.setdefault("expires_at", (data.get("credential") or {}).get("expires_at") or "")
    return SENTENCES.get(payload.get("type", ""), "").format_map(facts)


def item(delivery: Delivery) -> dict[str, Any]:
    """What a template shows of one delivery."""
    payload = delivery.payload
    credential = payload.get("data", {}).get("credential")
    link = ""
    if credential:
        link = settings.SITE_URL.rstrip("/") + reverse("credentials:detail", args=[credential["id"]])
    return {
        "title": EventKind(delivery.event).label if delivery.event in EventKind.values else delivery.event,
        "event": delivery.event,
        "credential": credential,
        "sentence": sentence(payload),
        "occurred_at": delivery.occurred_at,
        "link": link,
    }


def send_notice(delivery_id: Any) -> bool:
    """Send one e-mail delivery if still pending (an SMTP failure propagates, for the task to retry); True if sent."""
    with transaction.atomic():
        delivery = Delivery.locked_pending(delivery_id, Channel.EMAIL, "user")
        if delivery is None or delivery.user is None or not delivery.user.email:
            return False
        shown = item(delivery)
        context = {"item": shown, "user": delivery.user}
        subject = _subject(shown)
        _send(subject, "notifications/email/notice", context, delivery.user.email)
        delivery.attempts += 1
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.save(update_fields=["attempts", "status", "delivered_at"])
    return True


def send_digests() -> int:
    """One e-mail per person with pending digest deliveries (beat, daily); return how many were sent."""
    pending = Delivery.objects.filter(channel=Channel.DIGEST, status=DeliveryStatus.PENDING)
    user_ids = set(pending.values_list("user_id", flat=True).distinct())
    sent = 0
    for user in get_user_model().objects.filter(pk__in=user_ids, is_active=True).exclude(email=""):
        with transaction.atomic():
            rows = list(
                pending.select_for_update(skip_locked=True).filter(user=user).order_by("occurred_at")[:DIGEST_MAX]
            )
            if not rows:
                continue
            groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for shown in map(item, rows):
                groups[shown["title"]].append(shown)
            context = {"user": user, "groups": dict(groups), "count": len(rows)}
            _send(f"{SUBJECT_PREFIX}Your daily digest: {len(rows)} event(s)", "notifications/email/digest", context,
                  user.email)  # fmt: skip
            Delivery.objects.filter(pk__in=[row.pk for row in rows]).update(
                status=DeliveryStatus.DELIVERED, delivered_at=timezone.now(), attempts=1
            )
        sent += 1
    return sent


def _subject(shown: Mapping[str, Any]) -> str:
    credential = shown.get("credential")
    about = f": {credential['name']} ({credential['environment']})" if credential else ""
    # Header injection: a name with a line break must not start a header of its own.
    return (SUBJECT_PREFIX + shown["title"] + about).replace("\r", " ").replace("\n", " ")[:250]


def _send(subject: str, template: str, context: Mapping[str, Any], to: str) -> None:
    text = render_to_string(f"{template}.txt", dict(context))
    html = render_to_string(f"{template}.html", dict(context))
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    message.attach_alternative(html, "text/html")
    message.send()
