"""Writes to plugins: register, change, sync and delete; each audited on its credential, syncs queued on commit."""

from __future__ import annotations

import functools
import logging
import shutil
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from credentials.errors import QueueUnavailable
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
    actor: Any,
    name: Any,
    repo_url: Any,
    ref: Any = "",
    credential_id: Any = None,
    credential_name: Any = None,
    environment: Any = None,
    ip: str | None = None,
) -> Plugin:
    """Check everything, store the plugin as pending, and queue its clone once that is committed.

    The actor needs *use* on the credential; its type must fit the URL and the URL's host be among
    its allowed hosts. On any error nothing is written; if the queue is down, QueueUnavailable.
    """
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
    if errors:
        raise InvalidPlugin(errors)
    now = timezone.now()
    plugin = Plugin(
        name=name,
        repo_url=location.url,
        ref=ref,
        credential=credential,
        owner=actor,
        status=PluginStatus.PENDING,
        run=uuid.uuid4(),
        started_at=now,
        created_at=now,
        updated_at=now,
    )
    try:
        with transaction.atomic():
            plugin.save(force_insert=True)
            _audit_link(AuditAction.PLUGIN_LINKED, plugin, credential, actor=actor, ip=ip)
            transaction.on_commit(functools.partial(_queue_registration, plugin, actor, ip))
    except IntegrityError:
        raise InvalidPlugin({"name": [NAME_TAKEN]}) from None
    plugin.refresh_from_db()  # in-process (eager) tasks have already cloned it
    return plugin


def plugin_update(
    *,
    actor: Any,
    plugin_id: Any,
    name: Any = _UNSET,
    ref: Any = _UNSET,
    credential_id: Any = _UNSET,
    credential_name: Any = None,
    environment: Any = None,
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


def plugin_sync_request(*, actor: Any, plugin_id: Any, ip: str | None = None) -> Plugin:
    """Queue a fetch and checkout of the plugin's ref; a sync already under way is not started again."""
    from plugins.syncing import is_running

    with transaction.atomic():
        plugin = _lock(actor, plugin_id)
        if is_running(plugin, timezone.now()):
            return plugin
        previous = {"status": plugin.status, "run": plugin.run, "started_at": plugin.started_at}
        plugin.status = PluginStatus.PENDING
        plugin.run = uuid.uuid4()
        plugin.started_at = timezone.now()
        plugin.save(update_fields=["status", "run", "started_at"])
        transaction.on_commit(functools.partial(_queue_sync, plugin, actor, ip, previous))
    plugin.refresh_from_db()
    return plugin


def plugin_delete(*, actor: Any, plugin_id: Any, ip: str | None = None) -> None:
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


def _lock(actor: Any, plugin_id: Any) -> Plugin:
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
    action: str, plugin: Plugin, credential: Credential | None, *, actor: Any, ip: str | None, reason: str = ""
) -> None:
    """On the credential's trail: which plugin now clones with it, or no longer does."""
    if credential is None:
        return
    details = plugin.audit_details
    if reason:
        details["reason"] = reason
    audit_record(action=action, actor=actor, credential=credential, ip=ip, service=AUDIT_SERVICE, details=details)


def _publish(plugin: Plugin, actor: Any, ip: str | None) -> None:
    from kombu.exceptions import OperationalError

    from plugins.tasks import plugin_sync_task

    try:
        # Ids only: broker messages are readable by whoever reads the broker.
        plugin_sync_task.apply_async(args=[str(plugin.pk), str(plugin.run), actor.pk, ip])
    except (OperationalError, OSError) as exc:
        # The broker's URL may hold its password: log the kind of failure, not the message.
        logger.warning("Could not queue the sync of plugin %s: %s", plugin.pk, type(exc).__name__)
        raise QueueUnavailable() from None


def _queue_registration(plugin: Plugin, actor: Any, ip: str | None) -> None:
    try:
        _publish(plugin, actor, ip)
    except QueueUnavailable:
        # Nothing half-written: the registration is undone, and its trail says why.
        with transaction.atomic():
            deleted, _ = Plugin.objects.filter(pk=plugin.pk, run=plugin.run).delete()
            if deleted:
                reason = "the task queue was unavailable"
                _audit_link(AuditAction.PLUGIN_UNLINKED, plugin, plugin.credential, actor=actor, ip=ip, reason=reason)
        raise


def _queue_sync(plugin: Plugin, actor: Any, ip: str | None, previous: dict[str, Any]) -> None:
    try:
        _publish(plugin, actor, ip)
    except QueueUnavailable:
        Plugin.objects.filter(pk=plugin.pk, run=plugin.run).update(**previous)
        raise
