"""Routes of the plugins API, under /api/ (the README's "Using it")."""

from rest_framework.routers import SimpleRouter

from plugins.api.views import PluginViewSet

router = SimpleRouter()
router.register("plugins", PluginViewSet, basename="plugin")

urlpatterns = router.urls
