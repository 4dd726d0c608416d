"""The sync and delete buttons of a plugin's page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from config.actors import signed_in
from config.addresses import client_ip
from config.errors import QueueUnavailable
from plugins.errors import PluginNotFound
from plugins.services import plugin_delete, plugin_sync_request
from plugins.views.common import announce, visible_plugin


@login_required
@require_POST
def plugin_sync_page(request: HttpRequest, pk: Any) -> HttpResponse:
    plugin = visible_plugin(request, pk)
    try:
        synced = plugin_sync_request(actor=signed_in(request.user), plugin_id=plugin.pk, ip=client_ip(request))
    except PluginNotFound:
        raise Http404("Plugin not found.") from None
    except QueueUnavailable as exc:
        messages.error(request, str(exc))
    else:
        announce(request, synced, "Sync requested")
    return redirect("plugins:detail", pk=plugin.pk)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def plugin_delete_page(request: HttpRequest, pk: Any) -> HttpResponse:
    plugin = visible_plugin(request, pk)
    if request.method == "POST":
        try:
            plugin_delete(actor=signed_in(request.user), plugin_id=plugin.pk, ip=client_ip(request))
        except PluginNotFound:
            raise Http404("Plugin not found.") from None
        messages.success(request, f"Plugin “{plugin.name}” deleted, with its checkout.")
        return redirect("plugins:list")
    return render(request, "plugins/delete.html", {"plugin": plugin})
