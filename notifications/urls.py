"""The site's notification pages, under /notifications/: one's subscriptions and the webhook endpoints one manages."""

from django.urls import path

from notifications.views import settings, webhooks

app_name = "notifications"

urlpatterns = [
    path("", settings.subscriptions_page, name="settings"),
    path("reset/", settings.subscriptions_reset_page, name="reset"),
    path("webhooks/", webhooks.webhook_list_page, name="webhooks"),
    path("webhooks/<uuid:pk>/", webhooks.webhook_detail_page, name="webhook"),
    path("webhooks/<uuid:pk>/test/", webhooks.webhook_test_page, name="webhook-test"),
    path("webhooks/<uuid:pk>/rotate/", webhooks.webhook_rotate_page, name="webhook-rotate"),
    path("webhooks/<uuid:pk>/delete/", webhooks.webhook_delete_page, name="webhook-delete"),
]
