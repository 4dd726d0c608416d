"""What every plugin page needs: the plugin the caller may see, or 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
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


def announce(request: HttpRequest, plugin: Plugin, done: str) -> None:
    """One message for what was just asked (``done``: "Plugin “x” registered"), worded and coloured by its outcome.

    With tasks run in-process (the embedded default) the clone is over before the page answers:
    a failure is then an error, never a green "registered".
    """
    plugin.refresh_from_db(fields=["status", "last_error", "commit", "run", "started_at"])
    if plugin.is_busy:
        messages.info(request, f"{done}; it is running, and this page shows the result when it ends.")
    elif plugin.status == PluginStatus.FAILED:
        messages.error(request, f"{done}, but it failed: {plugin.last_error or 'see below.'}")
    else:
        messages.success(request, f"{done}; the checkout is ready at commit {plugin.commit[:12]}.")
