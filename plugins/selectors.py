"""Reads of plugins: what a user may see, and which plugins use a credential."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from config.actors import Caller
from credentials.models import Credential
from credentials.permissions import USE, actions_for, is_active_user
from credentials.selectors import credential_list_for_user
from credentials.type_cache import type_by_pk
from plugins.errors import PluginNotFound
from plugins.models import Plugin


def sees_all_plugins(user: Caller) -> bool:
    """Superusers see and manage every plugin; everyone else, their own."""
    return is_active_user(user) and user.is_superuser


def plugin_list_for_user(user: Caller) -> QuerySet[Plugin]:
    if not is_active_user(user):
        return Plugin.objects.none()
    plugins = Plugin.objects.select_related("credential", "owner")
    return plugins if sees_all_plugins(user) else plugins.filter(owner=user)


def plugin_get_for_user(user: Caller, *, plugin_id: uuid.UUID | str) -> Plugin:
    """One plugin ``user`` may see; PluginNotFound whether it is missing or someone else's."""
    try:
        return plugin_list_for_user(user).get(pk=uuid.UUID(str(plugin_id)))
    except (ValueError, Plugin.DoesNotExist):
        raise PluginNotFound() from None


def git_transport_of(credential: Credential) -> str:
    """How the credential's type gives itself to git: "https", "ssh", or "" when it cannot clone."""
    type_row = type_by_pk(credential.type_id)
    return type_row.spec.git_transport if type_row is not None else ""


def clone_credentials_for_user(user: Caller) -> list[Credential]:
    """The credentials ``user`` may use that could clone a repository (active, unexpired, git-capable).

    One query: the selector's rows carry the flags ``actions_for`` reads, and types are cached.
    """
    rows = credential_list_for_user(user).filter(is_active=True).order_by("name", "environment", "pk")
    return [
        credential
        for credential in rows
        if not credential.is_expired and git_transport_of(credential) and USE in actions_for(user, credential)
    ]


def plugins_using(credential: Credential, viewer: Caller) -> list[dict[str, Any]]:
    """The plugins cloning with ``credential``, when each last used it, and whether ``viewer`` may open it.

    A credential usage source (credentials.usage), which calls it with both arguments by position:
    what a deletion or a rotation would break.
    """
    rows = Plugin.objects.filter(credential=credential).select_related("owner").order_by("name")
    everything = sees_all_plugins(viewer)
    return [
        {
            "id": str(plugin.pk),
            "name": plugin.name,
            "repo_url": plugin.repo_url,
            "status": plugin.status,
            "owner": plugin.owner.get_username(),
            "last_used_at": plugin.credential_used_at,
            "visible": everything or plugin.owner_id == getattr(viewer, "pk", None),
        }
        for plugin in rows
    ]
