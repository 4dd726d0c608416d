"""The credential domain's events, each raised from one place (config.events.raise_event), for others to subscribe to.

Receivers (notifications) connect to these signals; nothing here knows about them. Each is sent with
``sender=Credential`` and keyword facts (ids, names, numbers, times), never a value.
"""

from __future__ import annotations

from django.dispatch import Signal

# A new payload was sealed by a change (services.credential_update).
# facts: credential_id, version, changed_fields (names only), actor_id
secret_changed = Signal()
# An earlier version was sealed again as the newest (versions.services.credential_rollback).
# facts: credential_id, version, restored_from, actor_id
rolled_back = Signal()
# Permissions granted to, or taken back from, a user or a group (sharing).
# facts: credential_id, grantee ("user" or "group"), grantee_id, permissions, expires_at (shared only), actor_id
shared = Signal()
unshared = Signal()
# Its tests failed CREDENTIAL_TEST_FLAG_AFTER times in a row (once, as the count reaches it), or
# passed after that (testers.runs). facts: credential_id, failures (in a row; before the pass for recovered)
test_failing = Signal()
test_recovered = Signal()
# Expiry notices due in one sweep (expiry.expiry_sweep), each once per credential, expiry time and stage
# (30, 7, 1 days; 0: expired). facts: noticed_at (the sweep's time: expiry.notices_of_sweep reads its
# notices), count
expiry_reached = Signal()
