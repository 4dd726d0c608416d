"""Raised events waiting to be fanned out, people's subscriptions, webhook endpoints, deliveries and their attempts."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils import timezone

from notifications.kinds import EmailMode, EventKind, Scope


class RaisedEvent(models.Model):
    """A domain event as raised, written in the transaction that raised it (an outbox): fanned out by a worker.

    ``signal`` names the domain event (``credentials.events.secret_changed``, say); ``facts`` are its
    keyword facts, ids, names and times only. ``fanned_out_at`` is set once its deliveries exist.
    """

    signal = models.CharField(max_length=100)
    facts = models.JSONField(default=dict)
    raised_at = models.DateTimeField(default=timezone.now)
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["raised_at"], condition=Q(fanned_out_at__isnull=True), name="raised_event_waiting"),
        ]

    def __str__(self) -> str:
        return f"{self.signal} at {self.raised_at:%Y-%m-%d %H:%M:%S}"


class Subscription(models.Model):
    """One person's choice for one event; without a row, notifications.kinds.DEFAULTS answers."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=64, choices=EventKind.choices)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.MINE)
    email = models.CharField(max_length=16, choices=EmailMode.choices, default=EmailMode.IMMEDIATE)
    webhook = models.BooleanField(default=False, help_text="Also to my own webhook endpoints.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="subscription_one_per_event")]
        indexes = [models.Index(fields=["event", "scope"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.event}"


class WebhookEndpoint(models.Model):
    """Where signed events are POSTed: a person's own, a team's (its managers'), or global (administrators').

    The signing secret is sealed like a credential's secret (the key ring, bound to this row and
    ``secret_number``), shown once when made and never again.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    url = models.CharField(max_length=2000)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    is_global = models.BooleanField(default=False)
    events = models.JSONField(default=list, blank=True, help_text="The events it receives; empty for all.")
    ciphertext = models.TextField(editable=False)
    key_id = models.CharField(max_length=16, editable=False)
    secret_number = models.PositiveIntegerField(default=1, editable=False)
    is_active = models.BooleanField(default=True)
    failures = models.PositiveIntegerField(default=0, help_text="Failed attempts in a row; reset by a success.")
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(user__isnull=False, team__isnull=True, is_global=False)
                    | Q(user__isnull=True, team__isnull=False, is_global=False)
                    | Q(user__isnull=True, team__isnull=True, is_global=True)
                ),
                name="webhook_endpoint_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> str:
        return "global" if self.is_global else "team" if self.team_id else "user"

    def accepts(self, event: str) -> bool:
        return not self.events or event in self.events


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    DIGEST = "digest", "Daily digest"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Delivery(models.Model):
    """One event for one person (e-mail, digest) or one endpoint (webhook); its id is the webhook-id sent.

    ``payload`` is what is sent: the event, its time, the credential's id, name, type, environment and
    owner, and the event's facts. Built from clear columns only, never from a secret.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    raised = models.ForeignKey(RaisedEvent, null=True, on_delete=models.SET_NULL, related_name="deliveries")
    event = models.CharField(max_length=64, choices=EventKind.choices)
    credential = models.ForeignKey(
        "credentials.Credential", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()
    channel = models.CharField(max_length=16, choices=Channel.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["endpoint", "-created_at"]),
            models.Index(fields=["user", "channel"], condition=Q(status="pending"), name="delivery_pending_by_user"),
        ]

    def __str__(self) -> str:
        return f"{self.event} by {self.channel}"

    @classmethod
    def locked_pending(cls, pk: Any, channel: str, *related: str) -> Delivery | None:
        """The delivery, locked, if still pending on ``channel``; None if another worker holds it or it is over."""
        rows = cls.objects.select_for_update(skip_locked=True, of=("self",)).select_related(*related)
        return rows.filter(pk=pk, channel=channel, status=DeliveryStatus.PENDING).first()


class DeliveryAttempt(models.Model):
    """One try of a webhook delivery: when, the answer's status code or what went wrong; never a body."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="delivery_attempt_once")]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
