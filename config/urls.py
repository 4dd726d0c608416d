"""Top-level URLs: the site's pages, the admin, and the JSON API with its schema and docs."""

from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.templatetags.static import static
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.api.token import ObtainTokenView


def _api_not_found(request: HttpRequest) -> JsonResponse:
    """Any other path under /api/: the API's error body, not Django's HTML page."""
    return JsonResponse({"detail": "No such endpoint.", "code": "not_found"}, status=404)


# Swagger UI sets style attributes as it renders; its scripts still come only from this site.
api_docs = csp_update({"style-src": ["'unsafe-inline'"]})(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))


def _favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico on every page, the admin's included."""
    return HttpResponseRedirect(static("latchkey/favicon.svg"))


# The admin says whose it is, in its header, its pages' titles and its index.
admin.site.site_header = "Latchkey administration"
admin.site.site_title = "Latchkey admin"
admin.site.index_title = "Credentials, plugins, people and the audit trail"

urlpatterns = [
    path("favicon.ico", _favicon),
    path("admin/", admin.site.urls),
    path("api/auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/", include("credentials.api.urls")),
    path("api/", include("plugins.api.urls")),
    path("api/", include("notifications.api.urls")),
    re_path(r"^api/", _api_not_found),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts.urls")),
    path("plugins/", include("plugins.urls")),
    path("notifications/", include("notifications.urls")),
    path("", include("credentials.urls")),
]
