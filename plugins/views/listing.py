"""My plugins, and one plugin's page: status, commit, credential and the last error."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from credentials.permissions import user_can_see
from plugins.selectors import plugin_list_for_user, sees_all_plugins
from plugins.views.common import visible_plugin

PAGE_SIZE = 50


@login_required
@require_safe
def plugin_list(request: HttpRequest) -> HttpResponse:
    plugins = plugin_list_for_user(request.user).order_by("name", "pk")
    page = Paginator(plugins, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "show_owner": sees_all_plugins(request.user)}
    return render(request, "plugins/list.html", context)


@login_required
@require_safe
def plugin_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    plugin = visible_plugin(request, pk)
    credential = plugin.credential
    context = {
        "plugin": plugin,
        # The owner may since have lost sight of the credential: then its name, but no link.
        "credential_link": credential is not None and user_can_see(request.user, credential),
    }
    return render(request, "plugins/detail.html", context)
