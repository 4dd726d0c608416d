"""Figure 4, key rotation: rotate_encryption_keys over 25,000 credentials x 4 tokens against its floor and a naive loop.

Each credential holds its own token and keeps three versions (their tokens sealed with their own
numbers, the last the same payload as the row's): 100,000 ciphertexts to read, open, seal and write.

Each side is one whole run (n=1), timed by wall clock in a process of its own, so that its peak
memory can be read from the kernel: the child resets its peak RSS (/proc/self/clear_refs) once
Django is set up and connected, and reports VmHWM minus VmRSS at that moment. The sides run on a
database of their own (the benchmark database's name plus "_rotation"), each from the same
snapshot of rows and versions under the old key, so they never touch the rows the other figures use.

Run as ``python -m benchmarks.rotation SIDE CREDENTIALS LIMIT`` it is that child; the parent sets its environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

NAME = "rotation"
GOAL_FLOOR = 1.5
GOAL_NAIVE = 0.2  # at least 5 times faster than the naive loop
MEMORY_GOAL_MB = 100
VERSIONS = 3  # kept per credential
TOKENS_PER_CREDENTIAL = 1 + VERSIONS  # the row's own, and one per kept version
# 25,000 credentials x 4: the 100,000 ciphertexts the figure rotated before versions, so `make bench`
# keeps its length; 100,000 credentials x 4 would add minutes (the naive side alone about five).
MAX_CREDENTIALS = 25_000
# `-n` scales the table (the smoke test runs -n 20): 2,000 iterations, the default, give 100,000 tokens.
TOKENS_PER_ITERATION = 50
MIN_CREDENTIALS = 250
FLOOR_BATCH = 2_000
SIDES = ("floor", "command", "naive")
# The naive loop commits once per token (about 0.8 ms each here, 75 to 90 s for 100,000): it is
# measured in full up to this many credentials; past them it would run on the first NAIVE_SAMPLE
# credentials (and as many versions each) only, its time scaled up, and the table would say so.
NAIVE_SAMPLE = 25_000
# Each table holding tokens, and the table its rows are kept in between the sides.
SNAPSHOTS = {
    "credentials_credential": "bench_rotation_source",
    "credentials_credentialversion": "bench_rotation_versions",
}
ROOT = Path(__file__).resolve().parents[1]

# A destroyed version has no token and no key id ("").
_FLOOR_SELECT = "SELECT id, ciphertext FROM {table} WHERE key_id NOT IN (%s, '') AND id > %s ORDER BY id LIMIT %s"
_FLOOR_UPDATE = (
    "UPDATE {table} AS t SET ciphertext = v.ciphertext, key_id = %s "
    "FROM unnest(%s::uuid[], %s::text[]) AS v(id, ciphertext) WHERE t.id = v.id"
)


# --- The parent: one figure, three rows of the table --------------------------------------------


def run(context: Any, *, iterations: int) -> list[Any]:
    from cryptography.fernet import Fernet

    from benchmarks.harness import FigureResult, Stats

    tokens = min(MAX_CREDENTIALS * TOKENS_PER_CREDENTIAL, iterations * TOKENS_PER_ITERATION)
    rows = max(MIN_CREDENTIALS, tokens // TOKENS_PER_CREDENTIAL)  # credentials
    url = _rotation_database_url()
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    started = time.perf_counter()
    _prepare(url, old, rows)
    prepared = time.perf_counter() - started
    measured = {}
    sample = min(rows, NAIVE_SAMPLE)
    for side in SIDES:
        _reset(url)
        limit = sample if side == "naive" else rows
        measured[side] = _child(url, [new, old], side, rows, limit)
        if measured[side]["left"] != (rows - limit) * TOKENS_PER_CREDENTIAL:
            raise AssertionError(f"The {side} side left {measured[side]['left']} tokens under the old key.")
    # Each token of the naive loop is independent (its own load, save and commit): its time scales linearly.
    measured["naive"]["seconds"] *= rows / sample

    def stats(side: str) -> Stats:
        return Stats(n=1, p50_us=measured[side]["seconds"] * 1e6, mean_us=measured[side]["seconds"] * 1e6)

    memory = {side: measured[side]["peak_growth_kib"] / 1024 for side in SIDES}
    label = f"{rows:,} credentials x {TOKENS_PER_CREDENTIAL} tokens"
    naive_label = (
        "naive ORM loop" if sample == rows else f"naive ORM loop ({sample:,}-credential sample x{rows / sample:g})"
    )
    notes = (
        f"one whole run per side (n=1): the p50 and mean columns are its wall time in µs; each credential's row "
        f"and {VERSIONS} kept versions hold tokens of about {measured['command']['ciphertext_bytes']:,} bytes "
        f"({rows * TOKENS_PER_CREDENTIAL:,} in all), prepared in {prepared:.0f} s.",
        "wall time: "
        + ", ".join(f"{side} {measured[side]['seconds']:.2f} s" for side in SIDES)
        + "; command = manage.py rotate_encryption_keys (default batch 1,000, row locks, one audit event).",
        "floor = MultiFernet.rotate on every token, rows then versions, + one UPDATE per 2,000 in raw SQL, "
        "keyset-paged reads; naive = ORM .iterator() over the rows then the versions, open, seal, save() each "
        "(one commit per token)"
        + (
            "."
            if sample == rows
            else f", timed on the first {sample:,} credentials and scaled by {rows / sample:g} (extrapolated)."
        ),
        f"peak RSS growth ({measured['command']['memory_source']}, each side in its own process): "
        + ", ".join(f"{side} {memory[side]:.1f} MB" for side in SIDES),
    )
    required = ((f"command peak RSS growth {memory['command']:.1f} MB < {MEMORY_GOAL_MB} MB",
                 memory["command"] < MEMORY_GOAL_MB),)  # fmt: skip
    return [
        FigureResult(
            name=f"rotation {label} (whole run)",
            op=stats("command"),
            baseline=stats("floor"),
            goal=GOAL_FLOOR,
            op_queries=(),
            baseline_queries=(),
            notes=notes,
            also_required=required,
        ),
        FigureResult(
            name=f"rotation {label} vs {naive_label}",
            op=stats("command"),
            baseline=stats("naive"),
            goal=GOAL_NAIVE,
            op_queries=(),
            baseline_queries=(),
        ),
    ]


def _rotation_database_url() -> str:
    from benchmarks.environment import database_url

    parts = urlsplit(database_url())
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_rotation"))


def _env(url: str, keys: list[str]) -> dict[str, str]:
    import secrets

    return {
        **os.environ,
        "DATABASE_URL": url,
        "FERNET_KEYS": ",".join(keys),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def _prepare(url: str, old: str, rows: int) -> None:
    """Create and migrate the rotation database, and store ``rows`` credentials and their versions as a snapshot."""
    import dj_database_url

    from benchmarks.environment import _create_database_if_missing

    _create_database_if_missing(dj_database_url.parse(url))
    env = _env(url, [old])
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, capture_output=True
    )
    if migrated.returncode:
        raise RuntimeError(f"migrate failed on the rotation database: {migrated.stderr.decode()[-2000:]}")
    _child(url, [old], "populate", rows, rows)


def _reset(url: str) -> None:
    """Every side starts from the same rows and versions, freshly analysed, with nothing dirty left to write."""
    import psycopg2

    from benchmarks.environment import EMPTY_CREDENTIALS_AND_AUDIT

    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(EMPTY_CREDENTIALS_AND_AUDIT)  # the versions too (CASCADE)
            for table, snapshot in SNAPSHOTS.items():  # the credentials first: the versions point at them
                cursor.execute(f"INSERT INTO {table} SELECT * FROM {snapshot}")
            for table in SNAPSHOTS:
                cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute("CHECKPOINT")
    finally:
        connection.close()


def _child(url: str, keys: list[str], side: str, rows: int, limit: int) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603  (our own interpreter and module, no outside input)
        [sys.executable, "-m", "benchmarks.rotation", side, str(rows), str(limit)],
        cwd=ROOT,
        env=_env(url, keys),
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"The rotation benchmark's {side} side failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- The child: one side, timed and measured in a process of its own ----------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> str:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux 4.0+)
    except OSError:
        return "ru_maxrss since start minus RSS before the run"
    return "VmHWM after the run minus VmRSS before it"


def _populate(rows: int) -> dict[str, Any]:
    from django.db import connection

    from benchmarks.environment import fill_credentials
    from credentials.models import Credential

    fill_credentials(rows, owner_name="bench-rotation", name_prefix="rotation-", versions=VERSIONS)
    with connection.cursor() as cursor:
        for table, snapshot in SNAPSHOTS.items():
            cursor.execute(f"DROP TABLE IF EXISTS {snapshot}")
            cursor.execute(f"CREATE TABLE {snapshot} AS SELECT * FROM {table}")
        # The first credential's versions name their audit events, which every side's reset empties.
        cursor.execute(f"UPDATE {SNAPSHOTS['credentials_credentialversion']} SET event_id = NULL")
    return {"rows": Credential.objects.count()}


def _floor(new: str, old: str) -> None:
    from cryptography.fernet import Fernet, MultiFernet
    from django.db import connection, transaction

    from credentials.keys.ring import key_id_for

    fernet = MultiFernet([Fernet(new), Fernet(old)])
    new_id = key_id_for(new.encode())
    with connection.cursor() as cursor:
        for table in SNAPSHOTS:
            last = "00000000-0000-0000-0000-000000000000"
            while True:
                cursor.execute(_FLOOR_SELECT.format(table=table), [new_id, last, FLOOR_BATCH])
                rows = cursor.fetchall()
                if not rows:
                    break
                ids = [str(pk) for pk, _ in rows]
                tokens = [fernet.rotate(token.encode()).decode() for _, token in rows]
                with transaction.atomic():
                    cursor.execute(_FLOOR_UPDATE.format(table=table), [new_id, ids, tokens])
                last = ids[-1]


def _naive(limit: int) -> None:
    from credentials.keys.ring import get_keyring
    from credentials.models import Credential, CredentialVersion

    keyring = get_keyring()
    old = (keyring.primary_key_id, "")
    credentials = Credential.objects.select_related("type").exclude(key_id__in=old)
    versions = CredentialVersion.objects.select_related("credential__type").exclude(key_id__in=old)
    for rows, count in ((credentials, limit), (versions, limit * VERSIONS)):
        for row in rows.order_by("pk")[:count].iterator(chunk_size=2000):
            credential = row if isinstance(row, Credential) else row.credential
            number = row.secret_version if isinstance(row, Credential) else row.number
            bound = {"credential_id": credential.pk, "type_slug": credential.type.slug, "number": number}
            data = keyring.open(**bound, ciphertext=row.ciphertext, key_id=row.key_id)
            sealed = keyring.seal(**bound, data=data)
            row.ciphertext, row.key_id = sealed.ciphertext, sealed.key_id
            row.save()


def _command() -> None:
    from io import StringIO

    from django.core.management import call_command

    call_command("rotate_encryption_keys", stdout=StringIO(), stderr=StringIO())


def _child_main(side: str, rows: int, limit: int) -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from credentials.keys.ring import get_keyring
    from credentials.models import Credential, CredentialVersion

    if side == "populate":
        return _populate(rows)
    keyring = get_keyring()
    connection.ensure_connection()
    work = {
        "floor": lambda: _floor(*settings.FERNET_KEYS[:2]),
        "naive": lambda: _naive(limit),
        "command": _command,
    }[side]
    source = _reset_peak()
    before = _status_kib("VmRSS")
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    if source.startswith("VmHWM"):
        peak = _status_kib("VmHWM")
    else:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sample = Credential.objects.values_list("ciphertext", flat=True).first() or ""
    return {
        "seconds": seconds,
        "peak_growth_kib": max(peak - before, 0),
        "memory_source": source,
        "left": sum(
            model.objects.exclude(key_id__in=(keyring.primary_key_id, "")).count()
            for model in (Credential, CredentialVersion)
        ),
        "ciphertext_bytes": len(sample),
    }


if __name__ == "__main__":
    print(json.dumps(_child_main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
