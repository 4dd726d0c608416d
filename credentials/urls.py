"""The site's pages for credentials: list, needs attention, create from a schema, detail, test, edit, share, delete,
and a version of the secret restored or destroyed."""

from django.urls import path

from credentials.views import attention, detail, editing, listing, sharing, testing, versions

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
    path("credentials/<uuid:pk>/versions/<int:number>/restore/", versions.version_restore_page, name="version-restore"),
    path("credentials/<uuid:pk>/versions/<int:number>/destroy/", versions.version_destroy_page, name="version-destroy"),
]
