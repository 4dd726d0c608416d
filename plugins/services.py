"""Writes to plugins: register, change, sync and delete; each audited on its credential, syncs queued on commit."""

from __future__ import annotations

import functools
import logging
import shutil
import uuid
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from config.actors import Actor
from config.errors import QueueUnavailable
from credentials.models import Credential
from plugins.errors import InvalidPlugin, PluginNotFound
from plugins.models import AUDIT_SERVICE, Plugin, PluginStatus
from plugins.paths import checkout_path
from plugins.selectors import plugin_list_for_user
from plugins.validation import check_fit, check_location, check_name, check_ref, find_credential

logger = logging.getLogger(__name__)

NAME_TAKEN = "You already have a plugin with this name."
_UNSET: Any = object()


def plugin_register(
    *,
    actor: Actor,
    name: str,
    repo_url: str,
    ref: str = "",
    credential_id: uuid.UUID | str | None = None,
    credential_name: str | None = None,
    environment: str | None = None,
    ip: str | None = None,
) -> Plugin:
    """Check everything, store the plugin as pending, and queue its clone once that is committed.

    The actor needs *use* on the credential; its type must fit the URL and the URL's host be among
    its allowed hosts. On any error nothing is written; if the queue is down, QueueUnavailable.
    """
    from plugins.syncing import SYNC_RUNS

    errors: dict[str, list[str]] = {}
    name = check_name(name, errors)
    location = check_location(repo_url, errors)
    ref = check_ref(ref, errors)
    credential = find_credential(
        actor, credential_id=credential_id, name=credential_name, environment=environment, errors=errors
    )
    check_fit(credential, location, errors)
    if "name" not in errors and Plugin.objects.filter(owner=actor, name__iexact=name).exists():
        errors["name"] = [NAME_TAKEN]
    if errors or location is None:  # no location without an error on the URL
        raise InvalidPlugin(errors)
    now = timezone.now()
    plugin = Plugin(
        name=name, repo_url=location.url, ref=ref, credential=credential, owner=actor, created_at=now, updated_at=now
    )
    run, _ = SYNC_RUNS.start(plugin, PluginStatus.PENDING, save=False)
    try:
        with transaction.atomic():
            plugin.save(force_insert=True)
            _audit_link(AuditAction.PLUGIN_LINKED, plugin, credential, actor=actor, ip=ip)
            _queue_sync(plugin, run, actor, ip, undo=functools.partial(_undo_registration, plugin, run, actor, ip))
    except IntegrityError:
        raise InvalidPlugin({"name": [NAME_TAKEN]}) from None
    plugin.refresh_from_db()  # in-process (eager) tasks have already cloned it
    return plugin


def plugin_update(
    *,
    actor: Actor,
    plugin_id: uuid.UUID | str,
    name: str = _UNSET,
    ref: str = _UNSET,
    credential_id: uuid.UUID | str | None = _UNSET,
    credential_name: str | None = None,
    environment: str | None = None,
    ip: str | None = None,
) -> Plugin:
    """Rename, change the ref, or move to another credential (or none); the next sync uses the change."""
    with transaction.atomic():
        plugin = _lock(actor, plugin_id)
        errors: dict[str, list[str]] = {}
        if name is not _UNSET:
            plugin.name = check_name(name, errors)
            taken = Plugin.objects.filter(owner=plugin.owner, name__iexact=plugin.name).exclude(pk=plugin.pk)
            if "name" not in errors and taken.exists():
                errors["name"] = [NAME_TAKEN]
        if ref is not _UNSET:
            plugin.ref = check_ref(ref, errors)
        previous = plugin.credential
        if credential_id is not _UNSET or credential_name is not None:
            chosen = find_credential(
                actor,
                credential_id=None if credential_id is _UNSET else credential_id,
                name=credential_name,
                environment=environment,
                errors=errors,
            )
            check_fit(chosen, check_location(plugin.repo_url, errors), errors)
            plugin.credential = chosen
        if errors:
            raise InvalidPlugin(errors)
        plugin.updated_at = timezone.now()
        plugin.save()
        if plugin.credential_id != getattr(previous, "pk", None):
            _audit_link(AuditAction.PLUGIN_UNLINKED, plugin, previous, actor=actor, ip=ip, reason="moved")
            _audit_link(AuditAction.PLUGIN_LINKED, plugin, plugin.credential, actor=actor, ip=ip)
    return plugin


def plugin_sync_request(*, actor: Actor, plugin_id: uuid.UUID | str, ip: str | None = None) -> Plugin:
    """Queue a fetch and checkout of the plugin's ref; a sync already under way is not started again."""
    from plugins.syncing import SYNC_RUNS

    with transaction.atomic():
        plugin = _lock(actor, plugin_id)
        if SYNC_RUNS.is_running(plugin, timezone.now()):
            return plugin
        run, previous = SYNC_RUNS.start(plugin, PluginStatus.PENDING)
        # Refused by the queue: the plugin is as it was, its earlier run (if any) still its own.
        undo = functools.partial(_undo_sync, plugin.pk, run, previous)
        _queue_sync(plugin, run, actor, ip, undo=undo)
    plugin.refresh_from_db()
    return plugin


def plugin_delete(*, actor: Actor, plugin_id: uuid.UUID | str, ip: str | None = None) -> None:
    """Remove the plugin and, once that is committed, its checkout; a sync under way finds it gone."""
    with transaction.atomic():
        plugin = _lock(actor, plugin_id)
        _audit_link(AuditAction.PLUGIN_UNLINKED, plugin, plugin.credential, actor=actor, ip=ip, reason="deleted")
        plugin_pk = plugin.pk
        plugin.delete()
        transaction.on_commit(functools.partial(remove_checkout, plugin_pk))


def remove_checkout(plugin_id: uuid.UUID) -> None:
    shutil.rmtree(checkout_path(plugin_id), ignore_errors=True)


# --- Helpers -----------------------------------------------------------------------------------


def _lock(actor: Actor, plugin_id: uuid.UUID | str) -> Plugin:
    try:
        return (
            plugin_list_for_user(actor)
            .select_for_update(of=("self",))
            .select_related("credential")
            .get(pk=uuid.UUID(str(plugin_id)))
        )
    except (ValueError, Plugin.DoesNotExist):
        raise PluginNotFound() from None


def _audit_link(
    action: str, plugin: Plugin, credential: Credential | None, *, actor: Actor, ip: str | None, reason: str = ""
) -> None:
    """On the credential's trail: which plugin now clones with it, or no longer does."""
    if credential is None:
        return
    details = plugin.audit_details
    if reason:
        details["reason"] = reason
    audit_record(action=action, actor=actor, credential=credential, ip=ip, service=AUDIT_SERVICE, details=details)


def _queue_sync(plugin: Plugin, run: uuid.UUID, actor: Actor, ip: str | None, *, undo: Callable[[], object]) -> None:
    """Queue ``run`` of the plugin once the transaction commits; if the queue refuses it, ``undo``, then
    QueueUnavailable."""
    from plugins.syncing import SYNC_RUNS
    from plugins.tasks import plugin_sync_task

    SYNC_RUNS.queue_on_commit(
        plugin_sync_task,
        (str(plugin.pk), str(run), actor.pk, ip),
        what=f"the sync of plugin {plugin.pk}",
        unavailable=QueueUnavailable,
        undo=undo,
        logger=logger,
    )


def _undo_registration(plugin: Plugin, run: uuid.UUID, actor: Actor, ip: str | None) -> None:
    from plugins.syncing import SYNC_RUNS

    # Nothing half-written: the registration is undone, and its trail says why.
    with transaction.atomic():
        deleted, _ = SYNC_RUNS.of_run(plugin.pk, run).delete()
        if deleted:
            reason = "the task queue was unavailable"
            _audit_link(AuditAction.PLUGIN_UNLINKED, plugin, plugin.credential, actor=actor, ip=ip, reason=reason)


def _undo_sync(plugin_id: uuid.UUID, run: uuid.UUID, previous: dict[str, Any]) -> None:
    from plugins.syncing import SYNC_RUNS

    SYNC_RUNS.of_run(plugin_id, run).update(**previous)
