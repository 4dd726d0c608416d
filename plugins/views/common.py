"""What every plugin page needs: the plugin the caller may see, or 404."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest

from plugins.errors import PluginNotFound
from plugins.models import Plugin, PluginStatus
from plugins.selectors import plugin_get_for_user


def visible_plugin(request: HttpRequest, pk: Any) -> Plugin:
    """The plugin, if the caller may see it; 404 whether it is missing or someone else's (invariant 5)."""
    try:
        return plugin_get_for_user(request.user, plugin_id=pk)
    except PluginNotFound:
        raise Http404("Plugin not found.") from None


def progress(plugin: Plugin) -> str:
    """Where a clone or sync just asked for stands; with tasks run in-process (the embedded default) it is over."""
    if plugin.is_busy:
        return "it is running, and this page shows the result when it ends."
    return "it failed." if plugin.status == PluginStatus.FAILED else "it is done."
