"""Registering a plugin from a repository, and changing its name, ref or credential."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from config.actors import signed_in
from config.addresses import client_ip
from config.errors import QueueUnavailable
from plugins.errors import InvalidPlugin, PluginNotFound
from plugins.forms import PluginEditForm, PluginRegisterForm
from plugins.services import plugin_register, plugin_update
from plugins.views.common import announce, visible_plugin


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def plugin_register_page(request: HttpRequest) -> HttpResponse:
    form = PluginRegisterForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            plugin = plugin_register(actor=signed_in(request.user), ip=client_ip(request), **form.register_arguments())
        except InvalidPlugin as exc:
            form.add_service_errors(exc)
        except QueueUnavailable as exc:
            # Nothing was kept: the form stays filled in, to send again in a minute.
            form.add_error(None, str(exc))
        else:
            announce(request, plugin, f"Plugin “{plugin.name}” registered")
            return redirect("plugins:detail", pk=plugin.pk)
    return render(request, "plugins/form.html", {"form": form})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def plugin_edit_page(request: HttpRequest, pk: Any) -> HttpResponse:
    plugin = visible_plugin(request, pk)
    form = PluginEditForm(request.POST or None, user=request.user, plugin=plugin)
    if request.method == "POST" and form.is_valid():
        try:
            saved = plugin_update(
                actor=signed_in(request.user), plugin_id=plugin.pk, ip=client_ip(request), **form.update_arguments()
            )
        except PluginNotFound:
            raise Http404("Plugin not found.") from None
        except InvalidPlugin as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Plugin “{saved.name}” saved; the next sync uses the change.")
            return redirect("plugins:detail", pk=saved.pk)
    return render(request, "plugins/form.html", {"form": form, "plugin": plugin})
