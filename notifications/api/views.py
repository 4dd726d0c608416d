"""Subscriptions, webhook endpoints (the secret in the creating or rotating answer only) and delivery logs: JSON."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from config.actors import signed_in
from config.addresses import client_ip
from config.api.inputs import StrictBooleanField, StrictCharField, StrictInput
from config.api.pagination import OneQueryPageNumberPagination
from config.api.schema import errors_for
from credentials.api.serializers import group_field
from notifications import selectors
from notifications.kinds import SUBSCRIBABLE, EmailMode, Scope
from notifications.models import DeliveryAttempt, Subscription, WebhookEndpoint
from notifications.services import subscription_set, subscriptions_reset
from notifications.webhooks import endpoints
from notifications.webhooks.urls import MAX_URL

_ENDPOINT_ID = OpenApiParameter("endpoint_id", str, OpenApiParameter.PATH, description="The endpoint's id (a UUID).")
_EVENT = OpenApiParameter("event", str, OpenApiParameter.PATH, enum=list(SUBSCRIBABLE), description="An event name.")
NO_STORE = {"Cache-Control": "no-store"}


class SubscriptionOutput(serializers.Serializer):
    event = serializers.CharField()
    title = serializers.CharField(source="label", help_text="The event in words.")
    scope = serializers.ChoiceField(choices=Scope.choices, source="preference.scope")
    email = serializers.ChoiceField(choices=EmailMode.choices, source="preference.email")
    webhook = serializers.BooleanField(source="preference.webhook")
    is_default = serializers.BooleanField(help_text="Not chosen: the default applies.")


class SubscriptionInput(StrictInput):
    scope = serializers.ChoiceField(choices=Scope.choices)
    email = serializers.ChoiceField(choices=EmailMode.choices)
    webhook = StrictBooleanField()


class EndpointOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    url = serializers.CharField()
    scope = serializers.ChoiceField(choices=["user", "team", "global"])
    owner = serializers.CharField(source="user.username", allow_null=True, default=None)
    team = serializers.CharField(source="team.name", allow_null=True, default=None)
    events = serializers.ListField(child=serializers.CharField(), help_text="Empty: every event.")
    is_active = serializers.BooleanField()
    failures = serializers.IntegerField(help_text="Failed attempts in a row.")
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class EndpointWithSecretOutput(EndpointOutput):
    secret = serializers.CharField(help_text="Shown in this answer only: keep it to verify signatures.")


class EndpointInput(StrictInput):
    name = StrictCharField(max_length=200)
    url = StrictCharField(max_length=MAX_URL)
    events = serializers.ListField(child=serializers.ChoiceField(choices=list(SUBSCRIBABLE)), required=False)
    team = group_field(allow_null=True, help_text="A team you manage; its managers manage it.")
    is_global = StrictBooleanField(required=False, default=False, help_text="Every event (administrators only).")


class EndpointChangeInput(StrictInput):
    name = StrictCharField(max_length=200, required=False)
    url = StrictCharField(max_length=MAX_URL, required=False)
    events = serializers.ListField(child=serializers.ChoiceField(choices=list(SUBSCRIBABLE)), required=False)
    is_active = StrictBooleanField(required=False, help_text="True again after a disabling forgives the failures.")


class AttemptOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    event = serializers.CharField(source="delivery.event")
    delivery = serializers.UUIDField(source="delivery.pk", help_text="Its webhook-id is msg_ and this, in hex.")
    attempt = serializers.IntegerField(source="number")
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    duration_ms = serializers.IntegerField()


class TestQueuedOutput(serializers.Serializer):
    delivery = serializers.UUIDField(source="pk")
    status = serializers.CharField()


class SubscriptionViewSet(viewsets.GenericViewSet):
    queryset = Subscription.objects.none()  # for the schema; reads go through the selectors
    serializer_class = SubscriptionOutput
    pagination_class = None
    lookup_field = lookup_url_kwarg = "event"

    @extend_schema(
        summary="How each event reaches you", responses={200: SubscriptionOutput(many=True), **errors_for(401)}
    )
    def list(self, request: Request) -> Response:
        return Response(SubscriptionOutput(selectors.subscriptions_for_user(signed_in(request.user)), many=True).data)

    @extend_schema(
        summary="Choose how one event reaches you",
        parameters=[_EVENT],
        request=SubscriptionInput,
        responses={200: SubscriptionOutput, **errors_for(400, 401, 404, 413, 415)},
    )
    def update(self, request: Request, event: str) -> Response:
        user = signed_in(request.user)
        _known(event)
        payload = SubscriptionInput(data=request.data)
        payload.is_valid(raise_exception=True)
        subscription_set(actor=user, event=event, **payload.validated_data)
        return Response(SubscriptionOutput(_choice(user, event)).data)

    @extend_schema(
        summary="Back to the default for one event",
        parameters=[_EVENT],
        request=None,
        responses={200: SubscriptionOutput, **errors_for(401, 404)},
    )
    def destroy(self, request: Request, event: str) -> Response:
        user = signed_in(request.user)
        _known(event)
        subscriptions_reset(actor=user, events=[event])
        return Response(SubscriptionOutput(_choice(user, event)).data)


def _known(event: str) -> None:
    from rest_framework.exceptions import NotFound

    if event not in SUBSCRIBABLE:
        raise NotFound("No such event.")


def _choice(user: Any, event: str) -> selectors.Choice:
    return next(choice for choice in selectors.subscriptions_for_user(user) if choice.event == event)


class WebhookEndpointViewSet(viewsets.GenericViewSet):
    queryset = WebhookEndpoint.objects.none()  # for the schema; reads go through the selectors
    serializer_class = EndpointOutput
    pagination_class = OneQueryPageNumberPagination
    lookup_url_kwarg = "endpoint_id"

    @extend_schema(
        summary="The webhook endpoints you manage: yours, your teams', and (administrators) the global ones",
        responses={200: EndpointOutput(many=True), **errors_for(400, 401, 404)},
    )
    def list(self, request: Request) -> Response:
        rows = selectors.endpoints_for_user(signed_in(request.user)).order_by("name", "pk")
        page = self.paginate_queryset(rows) or []
        return self.get_paginated_response(EndpointOutput(page, many=True).data)

    @extend_schema(
        summary="Add an endpoint; the answer holds its signing secret, which is never shown again",
        description="Events are POSTed signed per Standard Webhooks (webhook-id, webhook-timestamp, "
        "webhook-signature). The URL must be https:// in production and may not reach loopback, link-local or "
        "private addresses unless an operator allows them (OUTBOUND_ALLOWED_NETWORKS); redirects are not followed.",
        request=EndpointInput,
        responses={201: EndpointWithSecretOutput, **errors_for(400, 401, 413, 415)},
    )
    def create(self, request: Request) -> Response:
        payload = EndpointInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        team: Group | None = data.get("team")
        made = endpoints.endpoint_create(
            actor=signed_in(request.user), name=data["name"], url=data["url"], events=data.get("events"),
            team=team, is_global=data.get("is_global", False), ip=client_ip(request),
        )  # fmt: skip
        body = {**EndpointOutput(made.endpoint).data, "secret": made.secret}
        return Response(body, status=status.HTTP_201_CREATED, headers=NO_STORE)

    @extend_schema(parameters=[_ENDPOINT_ID], responses={200: EndpointOutput, **errors_for(401, 404)})
    def retrieve(self, request: Request, endpoint_id: str) -> Response:
        return Response(EndpointOutput(selectors.endpoint_for_user(signed_in(request.user), endpoint_id)).data)

    @extend_schema(
        summary="Change an endpoint's name, URL, events, or turn it on or off",
        parameters=[_ENDPOINT_ID],
        request=EndpointChangeInput,
        responses={200: EndpointOutput, **errors_for(400, 401, 404, 413, 415)},
    )
    def partial_update(self, request: Request, endpoint_id: str) -> Response:
        user = signed_in(request.user)
        selectors.endpoint_for_user(user, endpoint_id)  # 404 before the body is judged
        payload = EndpointChangeInput(data=request.data)
        payload.is_valid(raise_exception=True)
        changed = endpoints.endpoint_update(
            actor=user, endpoint_id=endpoint_id, changes=dict(payload.validated_data), ip=client_ip(request)
        )
        return Response(EndpointOutput(changed).data)

    @extend_schema(parameters=[_ENDPOINT_ID], request=None, responses={204: None, **errors_for(401, 404)})
    def destroy(self, request: Request, endpoint_id: str) -> Response:
        endpoints.endpoint_delete(actor=signed_in(request.user), endpoint_id=endpoint_id, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="A new signing secret (the old one stops now), shown in this answer only",
        parameters=[_ENDPOINT_ID],
        request=None,
        responses={200: EndpointWithSecretOutput, **errors_for(401, 404)},
    )
    def rotate_secret(self, request: Request, endpoint_id: str) -> Response:
        made = endpoints.endpoint_rotate_secret(
            actor=signed_in(request.user), endpoint_id=endpoint_id, ip=client_ip(request)
        )
        return Response({**EndpointOutput(made.endpoint).data, "secret": made.secret}, headers=NO_STORE)

    @extend_schema(
        summary="Send a test event (webhook.test) to the endpoint; its attempts join the delivery log",
        parameters=[_ENDPOINT_ID],
        request=None,
        description="At most WEBHOOK_TESTS_PER_MINUTE to one endpoint (429 beyond).",
        responses={202: TestQueuedOutput, **errors_for(400, 401, 404, 429)},
    )
    def send_test(self, request: Request, endpoint_id: str) -> Response:
        delivery = endpoints.endpoint_send_test(actor=signed_in(request.user), endpoint_id=endpoint_id)
        return Response(TestQueuedOutput(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="The endpoint's delivery log, newest first: time, event, attempt, status code or error; no body",
        parameters=[_ENDPOINT_ID],
        responses={200: AttemptOutput(many=True), **errors_for(400, 401, 404)},
    )
    def deliveries(self, request: Request, endpoint_id: str) -> Response:
        endpoint = selectors.endpoint_for_user(signed_in(request.user), endpoint_id)
        rows: Any = selectors.delivery_log(endpoint)
        page: list[DeliveryAttempt] = self.paginate_queryset(rows) or []
        return self.get_paginated_response(AttemptOutput(page, many=True).data)
