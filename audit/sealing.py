"""The sealer: links committed audit events into one keyed chain, in the order they became visible.

Appends never wait on each other (each event carries its own MAC). One sealer at a time (a
PostgreSQL advisory lock) then gives each committed, unlinked event the next place in the
chain. An event committed late, with a lower id than events already linked, simply takes a
later place: the chain's order is the order of linking, and nothing is ever inserted behind it.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from audit.keys import AuditKeys, get_audit_keys
from audit.models import AuditEvent, AuditLink, AuditSealer

GENESIS_MAC = "0" * 64
LINK_DOMAIN = b"latchkey audit link v1\n"
# pg_try_advisory_xact_lock's key for the sealer ("LKSE"): a second sealer returns at once.
_SEALER_LOCK = 0x4C4B5345
BATCH_SIZE = 5000


def link_mac(keys: AuditKeys, key_id: str, *, prev: str, seq: int, event_id: int, event_mac: str) -> str:
    """A link's MAC: over the link before it, its place, and the event it names (its id and MAC)."""
    return keys.mac(key_id, LINK_DOMAIN + f"{prev}\n{seq}\n{event_id}\n{event_mac}".encode())


def audit_seal(*, batch_size: int = BATCH_SIZE) -> int:
    """Link every committed event not yet linked; return how many. Another sealer running makes it return 0."""
    total = 0
    while True:
        linked = _seal_batch(batch_size)
        total += linked
        if linked < batch_size:
            return total


def _seal_batch(batch_size: int) -> int:
    with transaction.atomic():
        postgres = connection.vendor == "postgresql"
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_SEALER_LOCK])
                if not cursor.fetchone()[0]:
                    return 0
        state, _ = AuditSealer.objects.get_or_create(pk=1)
        pending, horizon = _pending(state.resume_txid, batch_size) if postgres else (_pending_anywhere(batch_size), 0)
        last = AuditLink.objects.order_by("-seq").values_list("seq", "chain_mac").first()
        seq, prev = last if last is not None else (0, GENESIS_MAC)
        keys = get_audit_keys()
        now = timezone.now()
        links = []
        for event_id, event_mac in pending:
            seq += 1
            chain_mac = link_mac(keys, keys.signing_key_id, prev=prev, seq=seq, event_id=event_id, event_mac=event_mac)
            links.append(
                AuditLink(
                    seq=seq,
                    event_id=event_id,
                    event_mac=event_mac,
                    chain_mac=chain_mac,
                    key_id=keys.signing_key_id,
                    linked_at=now,
                )
            )
            prev = chain_mac
        AuditLink.objects.bulk_create(links)
        if postgres and len(pending) < batch_size and horizon != state.resume_txid:
            # Every transaction older than the horizon had finished when the events were read,
            # so the next pass need not look at their events again.
            state.resume_txid = horizon
            state.save(update_fields=["resume_txid"])
        return len(links)


def _pending(resume_txid: int, batch_size: int) -> tuple[list[tuple[int, str]], int]:
    """Unlinked events of transactions not older than ``resume_txid``, and the new horizon.

    The horizon is read first: any transaction not yet visible to the next statement got its id
    after it, so the next pass may start there. Events carry their transaction's id (``txid``,
    a column only PostgreSQL has, set by its default), indexed, so a pass reads only recent rows.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        (horizon,) = cursor.fetchone()
        cursor.execute(
            "SELECT e.id, e.mac FROM audit_auditevent e WHERE e.txid >= %s "
            "AND NOT EXISTS (SELECT 1 FROM audit_auditlink l WHERE l.event_id = e.id) ORDER BY e.id LIMIT %s",
            [resume_txid, batch_size],
        )
        return list(cursor.fetchall()), horizon


def _pending_anywhere(batch_size: int) -> list[tuple[int, str]]:
    # SQLite, the embedded development database: one writer at a time and a small trail.
    return list(AuditEvent.objects.filter(link__isnull=True).order_by("id").values_list("id", "mac")[:batch_size])
