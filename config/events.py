"""Domain events: each raised from one place, inside the transaction that made the change, for others to subscribe to.

A receiver runs in that transaction: what it writes commits or rolls back with the change (an
event is never announced for a change that did not happen, nor lost for one that did), and what
it does outside the database it defers with ``transaction.on_commit``. Events carry ids, names and
times as keyword facts, never a secret.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal


def raise_event(signal: Signal, sender: type, **facts: Any) -> None:
    """Send ``signal`` to its receivers now, within the caller's transaction; an error in one rolls it back."""
    signal.send(sender=sender, **facts)
