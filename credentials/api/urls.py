"""Routes of the credentials API, under /api/ (the README's "Using it")."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from credentials.api.access_requests import (
    AccessRequestViewSet,
    CredentialRequestableViewSet,
    RequestableCredentialViewSet,
)
from credentials.api.attention import CredentialAttentionViewSet
from credentials.api.hostkeys import HostKeyPresetsView, HostKeysView
from credentials.api.share_candidates import ShareCandidatesView
from credentials.api.versions import CredentialVersionsViewSet
from credentials.api.views import CredentialSharesViewSet, CredentialTypeViewSet, CredentialViewSet

router = SimpleRouter()
router.register("credential-types", CredentialTypeViewSet, basename="credential-type")
router.register("credentials", CredentialViewSet, basename="credential")

shares = CredentialSharesViewSet.as_view({"get": "list", "post": "create", "delete": "destroy_share"})
versions = CredentialVersionsViewSet.as_view({"get": "list"})
requestable = CredentialRequestableViewSet.as_view({"get": "retrieve", "put": "update"})
requests = AccessRequestViewSet.as_view({"get": "list", "post": "create"})
request_detail = AccessRequestViewSet.as_view({"get": "retrieve"})
version = CredentialVersionsViewSet.as_view({"delete": "destroy"})
rollback = CredentialVersionsViewSet.as_view({"post": "rollback"})

urlpatterns = [
    # Before the router's routes, whose credentials/{pk}/ would take "attention" for an id.
    path("credentials/attention/", CredentialAttentionViewSet.as_view({"get": "list"}), name="credential-attention"),
    path("credentials/<str:pk>/shares/", shares, name="credential-shares"),
    path("credentials/<str:pk>/versions/", versions, name="credential-versions"),
    path("credentials/<str:pk>/requestable/", requestable, name="credential-requestable"),
    path("requestable-credentials/", RequestableCredentialViewSet.as_view({"get": "list"}), name="requestable"),
    path("access-requests/", requests, name="access-requests"),
    path("access-requests/review/", AccessRequestViewSet.as_view({"get": "review"}), name="access-review"),
    path("access-requests/<str:request_id>/", request_detail, name="access-request"),
    *(
        path(
            f"access-requests/<str:request_id>/{step}/",
            AccessRequestViewSet.as_view({"post": step}),
            name=f"access-{step}",
        )
        for step in ("approve", "deny", "cancel")
    ),
    # <str:number>, not <int:>: a number that is not one ("-1", "x") gets the API's 404 body, not Django's HTML.
    path("credentials/<str:pk>/versions/<str:number>/", version, name="credential-version"),
    path("credentials/<str:pk>/versions/<str:number>/rollback/", rollback, name="credential-version-rollback"),
    path("share-candidates/", ShareCandidatesView.as_view(), name="share-candidates"),
    path("ssh/host-keys/", HostKeysView.as_view(), name="ssh-host-keys"),
    path("ssh/host-keys/presets/", HostKeyPresetsView.as_view(), name="ssh-host-key-presets"),
    *router.urls,
]
