"""Top-level URLs: the admin, the JSON API with its schema and docs; the site's pages arrive with their issue."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.api.token import ObtainTokenView


def _api_not_found(request: HttpRequest) -> JsonResponse:
    """Any other path under /api/: the API's error body, not Django's HTML page."""
    return JsonResponse({"detail": "No such endpoint.", "code": "not_found"}, status=404)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("credentials.api.urls")),
    re_path(r"^api/", _api_not_found),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
