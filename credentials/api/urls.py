"""Routes of the credentials API, under /api/ (DESIGN.md, "JSON API (contract)")."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from credentials.api.views import CredentialSharesViewSet, CredentialTypeViewSet, CredentialViewSet

router = SimpleRouter()
router.register("credential-types", CredentialTypeViewSet, basename="credential-type")
router.register("credentials", CredentialViewSet, basename="credential")

shares = CredentialSharesViewSet.as_view({"get": "list", "post": "create", "delete": "destroy_share"})

urlpatterns = [
    path("credentials/<str:pk>/shares/", shares, name="credential-shares"),
    *router.urls,
]
