"""The plugin domain's events, each raised from one place (config.events.raise_event), for others to subscribe to.

Sent with ``sender=Plugin`` and keyword facts (ids only); the sync's own message stays on the plugin's row.
"""

from __future__ import annotations

from django.dispatch import Signal

# A sync (clone or fetch) ended in failure (syncing._finish_failed). facts: plugin_id, credential_id (or None)
sync_failed = Signal()
