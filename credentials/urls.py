"""The site's pages for credentials: list, needs attention, create from a schema, detail, test, edit, share, delete,
a version of the secret restored or destroyed, and time-bound access requested and reviewed."""

from django.urls import path

from credentials.views import access, attention, detail, editing, listing, sharing, testing, versions

app_name = "credentials"

urlpatterns = [
    path("", listing.credential_list, name="list"),
    path("attention/", attention.credentials_attention_page, name="attention"),
    path("credentials/new/", editing.choose_type, name="choose-type"),
    path("credentials/new/<slug:type_slug>/", editing.credential_create_page, name="create"),
    path("credentials/<uuid:pk>/", detail.credential_detail, name="detail"),
    path("credentials/<uuid:pk>/test/", testing.credential_test_page, name="test"),
    path("credentials/<uuid:pk>/edit/", editing.credential_edit_page, name="edit"),
    path("credentials/<uuid:pk>/delete/", editing.credential_delete_page, name="delete"),
    path("credentials/<uuid:pk>/shares/", sharing.credential_shares_page, name="shares"),
    path("credentials/<uuid:pk>/shares/remove/", sharing.credential_unshare_page, name="unshare"),
    path("credentials/<uuid:pk>/requestable/", access.requestable_settings_page, name="requestable-settings"),
    path("access/", access.requestable_list_page, name="requestable"),
    path("access/<uuid:pk>/request/", access.access_request_page, name="request-access"),
    path("access/requests/", access.my_requests_page, name="my-requests"),
    path("access/requests/<uuid:request_id>/cancel/", access.access_request_cancel_page, name="cancel-request"),
    path("access/review/", access.review_page, name="review-requests"),
    path("access/review/<uuid:request_id>/approve/", access.access_request_approve_page, name="approve-request"),
    path("access/review/<uuid:request_id>/deny/", access.access_request_deny_page, name="deny-request"),
    path("credentials/<uuid:pk>/versions/<int:number>/restore/", versions.version_restore_page, name="version-restore"),
    path("credentials/<uuid:pk>/versions/<int:number>/destroy/", versions.version_destroy_page, name="version-destroy"),
]
