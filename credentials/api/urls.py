"""Routes of the credentials API, under /api/ (the README's "Using it")."""

from django.urls import path
from rest_framework.routers import SimpleRouter

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
version = CredentialVersionsViewSet.as_view({"delete": "destroy"})
rollback = CredentialVersionsViewSet.as_view({"post": "rollback"})

urlpatterns = [
    # Before the router's routes, whose credentials/{pk}/ would take "attention" for an id.
    path("credentials/attention/", CredentialAttentionViewSet.as_view({"get": "list"}), name="credential-attention"),
    path("credentials/<str:pk>/shares/", shares, name="credential-shares"),
    path("credentials/<str:pk>/versions/", versions, name="credential-versions"),
    # <str:number>, not <int:>: a number that is not one ("-1", "x") gets the API's 404 body, not Django's HTML.
    path("credentials/<str:pk>/versions/<str:number>/", version, name="credential-version"),
    path("credentials/<str:pk>/versions/<str:number>/rollback/", rollback, name="credential-version-rollback"),
    path("share-candidates/", ShareCandidatesView.as_view(), name="share-candidates"),
    path("ssh/host-keys/", HostKeysView.as_view(), name="ssh-host-keys"),
    path("ssh/host-keys/presets/", HostKeyPresetsView.as_view(), name="ssh-host-key-presets"),
    *router.urls,
]
