"""Figure 7, the expiry sweep: expiry_sweep() over 100,000 credentials, 1,000 due, against one SELECT of them."""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Case, Exists, OuterRef, PositiveSmallIntegerField, Value, When
from django.utils import timezone

from benchmarks.credential_tests import broker_url
from benchmarks.environment import BenchContext
from benchmarks.harness import BLOCK, MAX_ITERATIONS, FigureResult, Stats, queries_of
from credentials.expiry import STAGES, expiry_sweep
from credentials.models import Credential, ExpiryNotice
from notifications.models import RaisedEvent

NAME = "expiry sweep"
GOAL = 2.0
# A sweep of 1,000 takes tens of milliseconds and each sample is followed by an untimed reset: a few
# hundred alternating samples settle the p50 and keep `make bench` short.
MAX_CALLS = 300

# The population. The credentials table holds exactly POPULATION rows while the figure runs: the
# seed's and other figures' rows, topped up with this figure's own, named expiry-<n>. The first
# WINDOW of those expire within 30 days (or expired within the grace), stage by n % 10:
# DUE need a notice; ANNOUNCED already have one at their stage (the NOT EXISTS turns them away);
# INACTIVE are not active. EXPIRED_LONG_AGO expired before the grace; of the rest, half expire
# beyond 30 days and half never. Every due row also has its earlier stages' notices (a credential
# at 7 days heard "30" before), and one in four a notice at its own stage for an older expiry
# (it was renewed), so the NOT EXISTS must compare both the stage and the expiry time.
POPULATION = 100_000
DUE = 1_000
ANNOUNCED = 1_000
INACTIVE = 500
EXPIRED_LONG_AGO = 500
WINDOW = DUE + ANNOUNCED + INACTIVE
FEWER_DUE = 100  # the query count must be the same as at DUE
PREFIX = "expiry-"
QUEUE = "latchkey-bench-expiry"

# Expiry times sit hours or days from every stage's boundary, so a run of minutes (each sweep
# reads its own now) finds each row at the same stage throughout.
_INSERT_CREDENTIALS = """
    INSERT INTO credentials_credential (id, name, type_id, environment, owner_id, team_id, description, tags,
        is_active, expires_at, allowed_hosts, public_fields, secrets_set, metadata, ciphertext, key_id, version,
        last_tested, test_status, test_message, created_by_id, updated_by_id, created_at, updated_at)
    SELECT gen_random_uuid(), %(prefix)s || lpad(n::text, 6, '0'), t.type_id, t.environment, %(owner)s, NULL,
        t.description, t.tags, NOT (n >= %(inactive_from)s AND n < %(window)s),
        CASE
            WHEN n < %(window)s THEN
                CASE
                    WHEN mod(n, 10) = 0 THEN %(now)s - make_interval(hours => %(grace_days)s * 12, mins => mod(n, 60))
                    WHEN mod(n, 10) = 1 THEN %(now)s + make_interval(hours => 6, mins => mod(n, 360))
                    WHEN mod(n, 10) < 5 THEN %(now)s + make_interval(days => 2 + mod(n, 5), hours => 12)
                    ELSE %(now)s + make_interval(days => 8 + mod(n, 22), hours => 12)
                END
            WHEN n < %(expired_to)s THEN %(now)s - make_interval(days => %(grace_days)s + 1 + mod(n, 300))
            WHEN mod(n, 2) = 0 THEN %(now)s + make_interval(days => 31 + mod(n, 700), hours => 12)
        END,
        t.allowed_hosts, t.public_fields, t.secrets_set, t.metadata, t.ciphertext, t.key_id, 1,
        NULL, '', '', %(owner)s, %(owner)s, %(now)s, %(now)s
    FROM generate_series(0, %(count)s - 1) AS n
    CROSS JOIN credentials_credential t
    WHERE t.id = %(template)s
"""
# The list figure's rows (it stores them again whenever it runs): a fifth of them expire within a
# year either way, about a thousand within this sweep's window, which would make the count wrong.
_DELETE_OTHER_FIGURES = (
    "DELETE FROM credentials_credentialuserpermission WHERE content_object_id IN "
    "(SELECT id FROM credentials_credential WHERE name LIKE 'list-%')",
    "DELETE FROM credentials_credentialgrouppermission WHERE content_object_id IN "
    "(SELECT id FROM credentials_credential WHERE name LIKE 'list-%')",
    "DELETE FROM credentials_expirynotice WHERE credential_id IN "
    "(SELECT id FROM credentials_credential WHERE name LIKE 'list-%' OR name LIKE 'expiry-%')",
    "DELETE FROM credentials_credential WHERE name LIKE 'list-%' OR name LIKE 'expiry-%'",
)


@dataclass(frozen=True)
class Population:
    """The due credentials and their stages, and the last ids before anything a sweep writes."""

    due: frozenset[tuple[uuid.UUID, int]]
    notice_mark: int
    event_mark: int
    seconds: float


def run(context: BenchContext, *, iterations: int) -> list[FigureResult]:
    url = broker_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        print(f"  skipped {NAME}: no Redis broker at {url} (set CELERY_BROKER_URL)", flush=True)
        return []
    population = populate(context)
    print(
        f"    {POPULATION:,} credentials for the expiry sweep seeded in {population.seconds:.1f} s; "
        f"{len(population.due):,} of them due",
        flush=True,
    )
    with _broker(url) as purge:
        marks = (population.notice_mark, population.event_mark)
        try:
            return [_figure(population, purge, iterations=min(iterations, MAX_CALLS))]
        finally:
            _reset(*marks, vacuum=False)
            purge()


def _figure(population: Population, purge: Callable[[], int], *, iterations: int) -> FigureResult:
    expected = len(population.due)

    def sweep(count: int) -> Callable[[int], object]:
        def call(number: int) -> object:
            found = expiry_sweep()
            if found != count:
                raise AssertionError(f"The sweep announced {found} credentials instead of {count}.")
            return found

        return call

    def floor(number: int) -> object:
        return list(due_queryset(timezone.now()))

    def reset() -> None:
        _reset(population.notice_mark, population.event_mark)
        published = purge()
        if published != 1:  # one fan-out message per sweep, on the broker: not run inline, not lost
            raise AssertionError(f"The sweep left {published} messages on the broker instead of 1.")

    # Once before timing: the floor selects what the sweep records, and what it publishes.
    _check_floor_sql(queries_of(floor, 0))
    found = {(pk, days) for pk, _name, _expires, days in floor(0)}
    if found != population.due:
        raise AssertionError(f"The floor selected {len(found)} credentials, not the {expected} due.")
    op_queries = queries_of(sweep(expected), 0)
    written = set(ExpiryNotice.objects.filter(pk__gt=population.notice_mark).values_list("credential_id", "days"))
    events = list(RaisedEvent.objects.filter(pk__gt=population.event_mark).values_list("signal", "facts"))
    announced_in = [facts.get("count") for signal, facts in events if signal == "expiry_reached"]
    if written != population.due or len(events) != 1 or announced_in != [expected]:
        raise AssertionError("The sweep did not record the due notices, or not as one expiry_reached event.")
    reset()

    # The same number of statements whatever the number due: announce all but FEWER_DUE first.
    announced = sorted(population.due)[: expected - FEWER_DUE]
    now = timezone.now()
    with transaction.atomic():
        ExpiryNotice.objects.bulk_create(
            [
                ExpiryNotice(credential_id=pk, expires_at=expires_at, days=days, noticed_at=now)
                for pk, expires_at, days in _with_expiry(announced)
            ]
        )
    fewer_queries = queries_of(sweep(FEWER_DUE), 0)
    reset()
    if len(fewer_queries) != len(op_queries):
        raise AssertionError(
            f"The sweep sent {len(op_queries)} statements for {expected} due but {len(fewer_queries)} for {FEWER_DUE}."
        )

    op_stats, floor_stats = _measure(sweep(expected), floor, reset, iterations=iterations)
    notes = (
        f"op = credentials.expiry.expiry_sweep(): one INSERT ... SELECT of {expected:,} notices, one RaisedEvent "
        f"naming the sweep, the commit, and one fan-out message published to Redis on commit (no worker; purged, "
        f"untimed, after each call, as are the rows it wrote). Floor: the same {expected:,} rows (id, name, expiry, "
        "stage) by one ORM SELECT with the same WHERE and NOT EXISTS, into a list.",
        f"{len(op_queries)} statements at {expected:,} due and at {FEWER_DUE} due. Population: {POPULATION:,} "
        f"credentials; {WINDOW:,} within the window ({ANNOUNCED:,} already announced, {INACTIVE} inactive), "
        f"{EXPIRED_LONG_AGO} expired before the grace, the rest beyond 30 days or without an expiry.",
    )
    return FigureResult(
        name=f"expiry sweep {expected:,} due of {POPULATION:,}",
        op=op_stats,
        baseline=floor_stats,
        goal=GOAL,
        op_queries=op_queries,
        baseline_queries=queries_of(floor, 0),
        notes=notes,
    )


def due_queryset(now: datetime) -> Any:
    """The credentials the sweep would announce at ``now``, with their stage: its WHERE in the ORM."""
    due = Case(
        When(expires_at__lte=now, then=Value(0)),
        *(When(expires_at__lte=now + timedelta(days=days), then=Value(days)) for days in sorted(STAGES)),
        output_field=PositiveSmallIntegerField(),
    )
    announced = ExpiryNotice.objects.filter(
        credential=OuterRef("pk"), expires_at=OuterRef("expires_at"), days__lte=OuterRef("due")
    )
    return (
        Credential.objects.filter(
            is_active=True,
            expires_at__gt=now - timedelta(days=settings.EXPIRY_NOTICE_GRACE_DAYS),
            expires_at__lte=now + timedelta(days=max(STAGES)),
        )
        .annotate(due=due)
        .filter(~Exists(announced))
        # The sweep reads them in no order; the model's default ordering would add a sort.
        .order_by()
        .values_list("id", "name", "expires_at", "due")
    )


def _check_floor_sql(queries: tuple[str, ...]) -> None:
    if len(queries) != 1 or "NOT EXISTS" not in queries[0] or "credentials_expirynotice" not in queries[0]:
        raise AssertionError(f"The floor is not one SELECT with the sweep's NOT EXISTS: {queries}")


def _measure(
    op: Callable[[int], object], floor: Callable[[int], object], reset: Callable[[], None], *, iterations: int
) -> tuple[Stats, Stats]:
    """harness.measure_pair, with ``reset`` run untimed after every call of ``op``.

    Each sweep must find the same 1,000 due, so what it wrote goes between samples; compare()
    has no place for work outside the timed calls, hence this copy of its loop.
    """
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be between 1 and {MAX_ITERATIONS}, not {iterations}")
    warmup = max(iterations // 10, 20)
    for number in range(warmup):
        op(number)
        reset()
        floor(number)
    samples: tuple[list[int], list[int]] = ([], [])
    sides = (op, floor)
    clock = time.perf_counter_ns
    end = warmup + iterations
    for block_start in range(warmup, end, BLOCK):
        gc.collect()
        gc.disable()
        try:
            for number in range(block_start, min(block_start + BLOCK, end)):
                # Which side goes first alternates, as in the harness.
                for side in (0, 1) if number % 2 == 0 else (1, 0):
                    start = clock()
                    sides[side](number)
                    samples[side].append(clock() - start)
                    if side == 0:
                        reset()
        finally:
            gc.enable()
    return Stats.from_ns(samples[0]), Stats.from_ns(samples[1])


def _reset(notice_mark: int, event_mark: int, *, vacuum: bool = True) -> None:
    """Delete what sweeps wrote; with ``vacuum``, also their dead rows.

    Production sweeps never delete their own notices a thousand at a time: without the VACUUM each
    sample would insert among more dead index entries than the last, until autovacuum ran mid-sample.
    """
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM credentials_expirynotice WHERE id > %s", [notice_mark])
        cursor.execute("DELETE FROM notifications_raisedevent WHERE id > %s", [event_mark])
        if vacuum:
            cursor.execute("VACUUM credentials_expirynotice, notifications_raisedevent")


def _with_expiry(due: list[tuple[uuid.UUID, int]]) -> Iterator[tuple[uuid.UUID, datetime, int]]:
    expiry = dict(Credential.objects.filter(pk__in=[pk for pk, _ in due]).values_list("pk", "expires_at"))
    for pk, days in due:
        yield pk, expiry[pk], days


@contextmanager
def _broker(url: str) -> Iterator[Callable[[], int]]:
    """Publish to Redis at ``url`` (never inline), on a queue of our own; yield a purge that says how many it removed.

    Settings were read at setup, perhaps without a broker (tasks then run in-process): the app is
    pointed at ``url`` for this figure and put back after. No worker reads the queue.
    """
    from config.celery import app

    names = ("broker_url", "broker_read_url", "broker_write_url", "task_always_eager", "task_default_queue")
    saved = {name: app.conf[name] for name in names}
    app.conf.update(
        broker_url=url, broker_read_url=url, broker_write_url=url, task_always_eager=False, task_default_queue=QUEUE
    )
    _forget_connections(app)
    channel_connection = app.connection_for_write()
    try:
        channel = channel_connection.default_channel
        # Bound before the first message: on Redis a message for an undeclared queue is dropped.
        app.amqp.queues[QUEUE].bind(channel).declare()
        channel.queue_purge(QUEUE)
        if app.conf.task_always_eager:
            raise AssertionError("The fan-out would run inline, inside the timed sweep.")
        yield lambda: int(channel.queue_purge(QUEUE) or 0)
    finally:
        channel_connection.release()
        app.conf.update(saved)
        _forget_connections(app)


def _forget_connections(app: Any) -> None:
    # Celery keeps its connection and producer pools from the first message: a new broker needs new ones.
    app._pool = None
    app.amqp._producer_pool = None


# --- The population ----------------------------------------------------------------------------


def populate(context: BenchContext) -> Population:
    """Top the credentials table up to POPULATION with this figure's rows, and their earlier notices."""
    started = time.perf_counter()
    grace = settings.EXPIRY_NOTICE_GRACE_DAYS
    if grace < 1:
        raise AssertionError(f"EXPIRY_NOTICE_GRACE_DAYS={grace}: the population needs a grace of a day or more.")
    owner, _ = get_user_model().objects.get_or_create(username="bench-expiry-owner")
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in _DELETE_OTHER_FIGURES:
            cursor.execute(statement)
        count = POPULATION - Credential.objects.count()
        if count < WINDOW + EXPIRED_LONG_AGO:
            raise AssertionError(f"The table already holds {POPULATION - count:,} credentials: no room for the figure.")
        cursor.execute(
            _INSERT_CREDENTIALS,
            {
                "prefix": PREFIX,
                "owner": owner.pk,
                "inactive_from": DUE + ANNOUNCED,
                "window": WINDOW,
                "expired_to": WINDOW + EXPIRED_LONG_AGO,
                "grace_days": grace,
                "now": now,
                "count": count,
                "template": context.credential_ids[0],
            },
        )
        window = Credential.objects.filter(name__startswith=PREFIX, name__lt=f"{PREFIX}{WINDOW:06d}")
        rows = [
            (int(name[len(PREFIX) :]), pk, expires_at)
            for pk, name, expires_at in window.values_list("pk", "name", "expires_at")
        ]
        if len(rows) != WINDOW or Credential.objects.count() != POPULATION:
            raise AssertionError(f"Seeding stored {len(rows)} credentials in the window instead of {WINDOW}.")
        notices, due = _notices(rows, now)
        ExpiryNotice.objects.bulk_create(notices, batch_size=1000)
    with connection.cursor() as cursor:
        # Fresh statistics, so the planner sees the tables as they now are.
        cursor.execute("VACUUM ANALYZE credentials_credential, credentials_expirynotice, notifications_raisedevent")
    return Population(
        due=frozenset(due),
        notice_mark=_last_id(ExpiryNotice),
        event_mark=_last_id(RaisedEvent),
        seconds=time.perf_counter() - started,
    )


def _notices(
    rows: list[tuple[int, uuid.UUID, datetime]], now: datetime
) -> tuple[list[ExpiryNotice], list[tuple[uuid.UUID, int]]]:
    """The notices already sent to the window's rows, and which rows are due at which stage."""
    noticed_at = now - timedelta(days=40)
    notices: list[ExpiryNotice] = []
    due: list[tuple[uuid.UUID, int]] = []
    for n, pk, expires_at in rows:
        stage = _stage(expires_at, now)
        stages = [days for days in STAGES if days > stage]  # the earlier stages, already heard
        if n >= DUE:
            stages.append(stage)  # announced at this stage too (the inactive ones before they were)
        else:
            due.append((pk, stage))
            if n % 4 == 3:  # renewed: this stage was announced for its previous expiry
                notices.append(
                    ExpiryNotice(credential_id=pk, expires_at=expires_at - timedelta(days=60), days=stage,
                                 noticed_at=noticed_at)
                )  # fmt: skip
        notices += [
            ExpiryNotice(credential_id=pk, expires_at=expires_at, days=days, noticed_at=noticed_at) for days in stages
        ]
    return notices, due


def _stage(expires_at: datetime, now: datetime) -> int:
    if expires_at <= now:
        return 0
    return next(days for days in sorted(STAGES) if expires_at <= now + timedelta(days=days))


def _last_id(model: Any) -> int:
    return model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
