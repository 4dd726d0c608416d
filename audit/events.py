"""The audit domain's events, raised from one place (config.events.raise_event), for others to subscribe to."""

from __future__ import annotations

from django.dispatch import Signal

# verify_audit_chain found the trail broken. facts: breaks (how many were reported), first (the first, in words)
verification_failed = Signal()
