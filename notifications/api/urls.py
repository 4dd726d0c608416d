"""Routes of the notifications API, under /api/notifications/."""

from django.urls import path

from notifications.api.views import SubscriptionViewSet, WebhookEndpointViewSet

endpoint = WebhookEndpointViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})

urlpatterns = [
    path("notifications/subscriptions/", SubscriptionViewSet.as_view({"get": "list"}), name="subscriptions"),
    path(
        "notifications/subscriptions/<str:event>/",
        SubscriptionViewSet.as_view({"put": "update", "delete": "destroy"}),
        name="subscription",
    ),
    path("webhooks/", WebhookEndpointViewSet.as_view({"get": "list", "post": "create"}), name="webhooks"),
    path("webhooks/<str:endpoint_id>/", endpoint, name="webhook"),
    path(
        "webhooks/<str:endpoint_id>/rotate-secret/",
        WebhookEndpointViewSet.as_view({"post": "rotate_secret"}),
        name="webhook-rotate-secret",
    ),
    path(
        "webhooks/<str:endpoint_id>/test/", WebhookEndpointViewSet.as_view({"post": "send_test"}), name="webhook-test"
    ),
    path(
        "webhooks/<str:endpoint_id>/deliveries/",
        WebhookEndpointViewSet.as_view({"get": "deliveries"}),
        name="webhook-deliveries",
    ),
]
