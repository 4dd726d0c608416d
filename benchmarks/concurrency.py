"""Figure 2, the one door under load: reveals per second from P processes at once, against the floor's.

For each P in PROCESSES, P worker processes (``python -m benchmarks.concurrency``, the same
environment as the parent) are started once and kept. The parent then asks all of them at once
to run the door, or the floor (reveal.operations: one SELECT, one decrypt, one audit-shaped
INSERT, commit), for a window of WINDOW seconds, and sums what they did; the two sides
alternate, round by round, the first side changing each round, so both see the same drift.
A row's ratio is the floor's throughput over the door's (time per operation, door over floor).

Between the door's windows the parent links what they appended (audit.sealing), as beat does
every AUDIT_SEAL_SECONDS; that work is off the request path and outside the timed windows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

NAME = "reveal under load"
PROCESSES = (1, 2, 4, 8, 16)
# Goal: the door keeps at least 0.8 of the floor's throughput, so its time per reveal is at most 1.25x.
GOAL = 1.25
ROOT = Path(__file__).resolve().parents[1]
SIDES = ("door", "floor")


def run(context: Any, *, iterations: int) -> list[Any]:
    from audit.sealing import audit_seal
    from benchmarks.harness import FigureResult, Stats

    # -n scales it: 2,000 (the default) gives windows of 2 s and 3 rounds; the smoke test's 20, one short round.
    window = min(2.0, max(iterations / 1000, 0.1))
    rounds = 3 if iterations >= 1000 else 1
    results = []
    for processes in PROCESSES:
        workers = [_start_worker() for _ in range(processes)]
        try:
            for worker in workers:
                _expect(worker, "ready")
            totals = {side: [0, 0.0] for side in SIDES}
            for number in range(rounds + 1):  # the first round warms both sides up and is not counted
                for side in SIDES if number % 2 == 0 else reversed(SIDES):
                    done, elapsed = _window(workers, side, window)
                    if number > 0:
                        totals[side][0] += done
                        totals[side][1] += elapsed
                    if side == "door":
                        audit_seal()
        finally:
            for worker in workers:
                worker.stdin.close()
                worker.wait(timeout=60)
        door, floor = (Stats.amortized(int(totals[s][1] * 1e9), max(totals[s][0], 1)) for s in SIDES)
        results.append(
            FigureResult(
                name=f"reveal, P={processes}",
                op=door,
                baseline=floor,
                goal=GOAL,
                op_queries=(),
                baseline_queries=(),
                notes=(
                    f"{totals['door'][0] / totals['door'][1]:,.0f} reveals/s against the floor's "
                    f"{totals['floor'][0] / totals['floor'][1]:,.0f}/s ({processes} processes, {rounds} "
                    f"alternating windows of {window:g} s each side)",
                ),
            )
        )
    return results


def _start_worker() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.concurrency"],
        cwd=ROOT,
        env=dict(os.environ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


def _expect(worker: subprocess.Popen[str], word: str) -> str:
    line = worker.stdout.readline()
    if not line.startswith(word):
        raise RuntimeError(f"a concurrency worker said {line!r} instead of {word!r} (exit {worker.poll()})")
    return line


def _window(workers: list[subprocess.Popen[str]], side: str, seconds: float) -> tuple[int, float]:
    """Every worker runs ``side`` for ``seconds`` from one start; the operations done and the window's length."""
    start = time.time() + 0.2  # time for every worker to read the order before the window opens
    for worker in workers:
        worker.stdin.write(f"{side} {start} {seconds}\n")
    done = sum(int(_expect(worker, "done").split()[1]) for worker in workers)
    return done, seconds


# --- A worker process --------------------------------------------------------------------------


def _serve() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from benchmarks.environment import TYPE_SLUG
    from benchmarks.reveal import operations
    from credentials.models import Credential

    owner = get_user_model().objects.get(username="bench-owner")
    ids = tuple(Credential.objects.filter(owner=owner).order_by("name").values_list("id", flat=True))
    sides = dict(zip(SIDES, operations(owner, ids, TYPE_SLUG), strict=True))
    offset = os.getpid() * 7919  # each process walks the rows from its own place
    print("ready", flush=True)
    for order in sys.stdin:
        side, start, seconds = order.split()
        operation, deadline = sides[side], float(start) + float(seconds)
        while time.time() < float(start):
            time.sleep(0.001)
        done = 0
        while time.time() < deadline:
            operation(offset + done)
            done += 1
        print(f"done {done}", flush=True)


if __name__ == "__main__":
    _serve()
