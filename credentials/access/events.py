"""The access domain's events, each raised from one place (config.events.raise_event), for others to subscribe to.

Receivers (notifications) connect to these signals; nothing here knows about them. Each is sent
with ``sender=AccessRequest`` or ``sender=Credential`` and keyword facts (ids, names, times), never a secret.
"""

from __future__ import annotations

from django.dispatch import Signal

# facts: request_id, credential_id, requester_id, permission, hours
access_requested = Signal()
# facts: request_id, credential_id, requester_id, permission, hours, status (approved, denied, cancelled,
# expired), decided_by_id (None when it expired or was cancelled), grant_expires_at (when approved)
access_decided = Signal()
# facts: credential_id, grantee ("user" or "group"), grantee_id, permission, expires_at
grant_ending = Signal()
# facts: credential_id, grantee, grantee_id, permissions, expired_at
grant_expired = Signal()
