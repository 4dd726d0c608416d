"""The plugins API: register (202, cloned by a task), list, detail, change, sync (202) and delete."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.actors import signed_in
from config.addresses import client_ip
from config.api.pagination import OneQueryPageNumberPagination
from config.api.schema import errors_for
from plugins import selectors, services
from plugins.api.serializers import PluginCreateInput, PluginOutput, PluginUpdateInput, credential_choice
from plugins.models import Plugin

_ID = OpenApiParameter("id", str, OpenApiParameter.PATH, description="The plugin's id (a UUID).")


def _accepted(plugin: Plugin) -> Response:
    body = PluginOutput(plugin).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]})


@extend_schema_view(
    list=extend_schema(
        summary="Plugins you registered (all of them for a superuser)",
        responses={200: PluginOutput(many=True), **errors_for(400, 401, 404)},
    ),
    create=extend_schema(
        summary="Register a plugin from a git repository; a background task clones it",
        description="Answers 202 with the plugin as pending; poll status_url until it is installed or failed. "
        "A private repository needs a credential you may use, whose type fits the URL (an SSH key for ssh:// "
        "and user@host:path, a token or basic authentication for https://) and whose allowed hosts include "
        "the URL's host.",
        request=PluginCreateInput,
        responses={202: PluginOutput, **errors_for(400, 401, 415, 503)},
    ),
    retrieve=extend_schema(
        summary="One plugin", parameters=[_ID], responses={200: PluginOutput, **errors_for(401, 404)}
    ),
    partial_update=extend_schema(
        summary="Rename a plugin, change its ref or move it to another credential (used from the next sync)",
        request=PluginUpdateInput,
        parameters=[_ID],
        responses={200: PluginOutput, **errors_for(400, 401, 404)},
    ),
    destroy=extend_schema(
        summary="Delete a plugin and its checkout",
        parameters=[_ID],
        responses={204: OpenApiResponse(description="Deleted."), **errors_for(401, 404)},
    ),
)
class PluginViewSet(viewsets.GenericViewSet):
    queryset = Plugin.objects.none()  # for the schema; reads go through the selectors
    serializer_class = PluginOutput
    pagination_class = OneQueryPageNumberPagination
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    # Every route under /api/plugins/{id}/ first finds the caller's plugin: someone else's answers 404 to
    # every verb, OPTIONS and unsupported methods included.
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.plugin = selectors.plugin_get_for_user(request.user, plugin_id=kwargs["pk"]) if "pk" in kwargs else None

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.plugin_list_for_user(request.user))
        return self.get_paginated_response(PluginOutput(page, many=True).data)

    def create(self, request: Request) -> Response:
        payload = PluginCreateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        plugin = services.plugin_register(
            actor=signed_in(request.user),
            name=data["name"],
            repo_url=data["repo_url"],
            ref=data.get("ref", ""),
            ip=client_ip(request),
            **credential_choice(data),
        )
        return _accepted(plugin)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(PluginOutput(self.plugin).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        payload = PluginUpdateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(payload.validated_data)
        changes = {key: data[key] for key in ("name", "ref") if key in data}
        plugin = services.plugin_update(
            actor=signed_in(request.user), plugin_id=pk, ip=client_ip(request), **changes, **credential_choice(data)
        )
        return Response(PluginOutput(plugin).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.plugin_delete(actor=signed_in(request.user), plugin_id=pk, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Fetch and check out the plugin's ref again, as a background task",
        description="Answers 202; poll status_url. A sync already under way is not started again. The "
        "credential's current secret is used, so a rotated token takes effect here.",
        parameters=[_ID],
        request=None,
        responses={202: PluginOutput, **errors_for(401, 404, 503)},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def sync(self, request: Request, pk: str) -> Response:
        return _accepted(
            services.plugin_sync_request(actor=signed_in(request.user), plugin_id=pk, ip=client_ip(request))
        )
