"""The Django admin for notifications: subscriptions, webhook endpoints, deliveries and raised events, read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from config.actors import signed_in
from config.addresses import client_ip
from config.admin_readonly import NoWrites
from notifications.errors import EndpointNotFound
from notifications.models import Delivery, DeliveryAttempt, RaisedEvent, Subscription, WebhookEndpoint
from notifications.selectors import endpoints_for_user
from notifications.webhooks.endpoints import endpoint_delete


class ReadOnlyAdmin(NoWrites, admin.ModelAdmin):
    """A model's rows to read."""


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("user", "event", "scope", "email", "webhook", "updated_at")
    list_filter = ("event", "scope", "email", "webhook")
    search_fields = ("user__username",)
    list_select_related = ("user",)


# Everything but the sealed secret and the key that sealed it: neither is loaded, let alone shown.
ENDPOINT_FIELDS = (
    "name", "url", "scope", "user", "team", "is_global", "events", "is_active", "failures", "disabled_at",
    "disabled_reason", "secret_number", "created_by", "created_at", "updated_at",
)  # fmt: skip


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    """No add here: staff make endpoints on the site, whose answer shows the new secret once. Superusers may
    delete one, through the same audited service as the site."""

    list_display = ("name", "scope", "owner_or_team", "url", "is_active", "failures")
    list_filter = ("is_active", "is_global", "team")
    search_fields = ("name", "url", "user__username", "team__name")
    fields = readonly_fields = ENDPOINT_FIELDS
    view_on_site = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        # The selector decides who sees which (all of them for superusers), as on the site.
        queryset = endpoints_for_user(signed_in(request.user)).defer("ciphertext", "key_id")
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        try:
            endpoint_delete(actor=signed_in(request.user), endpoint_id=obj.pk, ip=client_ip(request))
        except EndpointNotFound:
            raise Http404("Webhook endpoint not found.") from None

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        with transaction.atomic():  # all or none
            for endpoint in queryset:
                self.delete_model(request, endpoint)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, Any, Any]:
        # Deliveries and their attempts go with their endpoint, as the service deletes it; their own admin
        # refuses deletion to everyone, which Django would otherwise count as a permission missing.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    @admin.display(description="Owner / team", ordering="user__username")
    def owner_or_team(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.team is not None:
            return f"team {endpoint.team.name}"
        if endpoint.user is not None:
            return endpoint.user.get_username()
        return "—"  # global


class DeliveryAttemptInline(NoWrites, admin.TabularInline):
    """Each try of a delivery: when, the status code or what went wrong, how long; never a body."""

    model = DeliveryAttempt
    fields = readonly_fields = ("number", "at", "status_code", "error", "duration_ms")
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "event", "channel", "status", "user", "endpoint", "attempts", "last_status_code")
    list_filter = ("channel", "status", "event", "created_at")
    search_fields = ("user__username", "endpoint__name")
    list_select_related = ("user", "endpoint")
    # The payload names the credential and the event, never a secret (notifications.fanout.payload).
    fields = readonly_fields = (
        "id", "event", "channel", "status", "credential", "user", "endpoint", "occurred_at", "created_at",
        "attempts", "last_status_code", "last_error", "delivered_at", "raised", "payload",
    )  # fmt: skip
    inlines = [DeliveryAttemptInline]
    show_full_result_count = False  # the table only grows: no count of every row on each page

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        # The endpoint's secret is never loaded with it.
        return super().get_queryset(request).defer("endpoint__ciphertext", "endpoint__key_id")


@admin.register(RaisedEvent)
class RaisedEventAdmin(ReadOnlyAdmin):
    list_display = ("signal", "raised_at", "fanned_out_at")
    list_filter = ("signal", "raised_at")
    fields = readonly_fields = ("signal", "facts", "raised_at", "fanned_out_at")
    show_full_result_count = False
