"""Figure 5, credential tests: 200 postgres tests through a Celery worker (concurrency 2) against direct connects.

Both sides open a new PostgreSQL connection with the same parameters and run SELECT 1. The
operation adds everything a test is: the request (permission check, row marked running, the
message to Redis), the worker's task (the one door: decrypt and audit), the tester, and the
result and its audit event written back. It is timed as throughput, from the first request
to the last result seen in the database; the floor is the same number of connect-and-SELECT-1
calls made one after another in this process, timed before and after the operation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg2
import redis
from django.db import connection

from benchmarks.environment import BenchContext
from benchmarks.harness import FigureResult, Stats

NAME = "credential tests"
GOAL = 1.5
TESTS = 200
CONCURRENCY = 2
WARMUP = 10
QUEUE = "latchkey-bench"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


def broker_url() -> str:
    return os.environ.get("BENCH_BROKER_URL") or os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER


def run(context: BenchContext, *, iterations: int) -> list[FigureResult]:
    count = min(iterations, TESTS)
    url = broker_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        print(f"  skipped {NAME}: no Redis broker at {url} (set BENCH_BROKER_URL)", flush=True)
        return []
    _use_broker(url)
    params = _connection_parameters()
    ids = _credentials(context, count + WARMUP, params)
    with tempfile.TemporaryDirectory(prefix="latchkey-bench-worker-") as directory:
        worker = _start_worker(url, Path(directory) / "worker.log")
        try:
            _through_worker(context, ids[:WARMUP])  # the pool processes import and connect once
            before = _direct(params, count)
            op_ns, failed = _through_worker(context, ids[WARMUP:])
            after = _direct(params, count)
            parallel = _direct(params, count, threads=CONCURRENCY)
        finally:
            worker.terminate()
            worker.wait(30)
    if failed:
        raise RuntimeError(f"{failed} of {count} benchmark credential tests failed; see the credentials' messages")
    floor = Stats.amortized((before + after) // 2, count)
    op = Stats.amortized(op_ns, count)
    notes = (
        f"throughput, not latency: each µs figure is wall time / {count} (p50 = mean). Op: {count} tests requested "
        f"through the API's service, run by `celery -A config worker --concurrency {CONCURRENCY}`, timed until the "
        "last result is in the database. Floor: the same number of psycopg2 connect + SELECT 1 + close, one after "
        "another, before and after the op (averaged). The server trusts loopback: no password hashing on either side.",
    )
    return [
        FigureResult(NAME, op, floor, GOAL, (), (), notes=notes),
        FigureResult(
            f"{NAME} (floor in {CONCURRENCY} threads)",
            op,
            Stats.amortized(parallel, count),
            GOAL,
            (),
            (),
            informational=True,
            notes=(f"the same op against direct connects made by {CONCURRENCY} threads at once.",),
        ),
    ]


def _use_broker(url: str) -> None:
    """Send tasks to the broker from this process (settings were read before, without one) on our own queue."""
    from config.celery import app

    app.conf.update(
        broker_url=url, broker_read_url=url, broker_write_url=url, task_always_eager=False, task_default_queue=QUEUE
    )
    app._pool = None


def _connection_parameters() -> dict:
    settings = connection.settings_dict
    return {
        "host": settings["HOST"] or "127.0.0.1",
        "port": int(settings["PORT"] or 5432),
        "database": settings["NAME"],
        "username": settings["USER"] or "postgres",
        "password": "bench-unused-password",
        "sslmode": "prefer",
    }


def _credentials(context: BenchContext, count: int, params: dict) -> list[uuid.UUID]:
    from credentials.services import credential_create

    run_id = uuid.uuid4().hex[:6]
    return [
        credential_create(actor=context.owner, type_slug="postgres", name=f"bench-test-{run_id}-{n}", fields=params).pk
        for n in range(count)
    ]


def _start_worker(url: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "CELERY_BROKER_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    with open(log, "w") as output:
        worker = subprocess.Popen(  # noqa: S603  (our own interpreter and arguments)
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork",
             f"--concurrency={CONCURRENCY}", "-Q", QUEUE, "--loglevel=INFO", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-n", f"bench-{uuid.uuid4().hex[:6]}@%h"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            raise RuntimeError(f"the benchmark's Celery worker did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    return worker


def _through_worker(context: BenchContext, ids: list[uuid.UUID]) -> tuple[int, int]:
    """Request a test of each, wait for every result; the wall time and how many failed."""
    from credentials.models import Credential
    from credentials.testers.runs import credential_test_request

    started = time.perf_counter_ns()
    for credential_id in ids:
        credential_test_request(actor=context.owner, credential_id=credential_id)
    pending = Credential.objects.filter(pk__in=ids, test_status="running")
    deadline = time.monotonic() + 300
    while pending.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the benchmark's credential tests did not finish within 300 s")
        time.sleep(0.005)
    elapsed = time.perf_counter_ns() - started
    return elapsed, Credential.objects.filter(pk__in=ids, test_status="failed").count()


def _connect_and_select(params: dict) -> None:
    # The tester's own parameters, so that both sides open the same kind of connection.
    conn = psycopg2.connect(
        host=params["host"],
        port=params["port"],
        dbname=params["database"],
        user=params["username"],
        password=params["password"],
        sslmode=params["sslmode"],
        connect_timeout=5,
        application_name="latchkey-credential-test",
        options="-c statement_timeout=5000",
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        conn.close()


def _direct(params: dict, count: int, *, threads: int = 1) -> int:
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter_ns()
    if threads == 1:
        for _ in range(count):
            _connect_and_select(params)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda _: _connect_and_select(params), range(count)))
    return time.perf_counter_ns() - started
