"""Timing an operation against its floor in the same run, and the result a figure reports."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.test.utils import CaptureQueriesContext

DEFAULT_ITERATIONS = 2000
MAX_ITERATIONS = 20_000
BLOCK = 100

# One call of a measured operation; it gets the iteration number so it can pick its row or name.
Operation = Callable[[int], object]


@dataclass(frozen=True)
class Stats:
    """Per-operation wall-clock time over ``n`` calls, in microseconds."""

    n: int
    p50_us: float
    mean_us: float

    @classmethod
    def from_ns(cls, samples: list[int]) -> Stats:
        return cls(n=len(samples), p50_us=statistics.median(samples) / 1000, mean_us=statistics.fmean(samples) / 1000)

    @classmethod
    def amortized(cls, total_ns: int, n: int) -> Stats:
        """For a figure of throughput: ``n`` operations in ``total_ns`` of wall time, as time per operation.

        Its p50 and mean are both that average (there are no per-call samples); the figure says so in its notes.
        """
        per_call_us = total_ns / n / 1000
        return cls(n=n, p50_us=per_call_us, mean_us=per_call_us)


@dataclass(frozen=True)
class FigureResult:
    """One row of the table: an operation, its floor measured beside it, and the goal for their ratio."""

    name: str
    op: Stats
    baseline: Stats
    goal: float
    op_queries: tuple[str, ...]
    baseline_queries: tuple[str, ...]
    # A row shown for comparison with the others: its goal is not checked, nor counted in the summary.
    informational: bool = False
    # Lines printed under the table (a whole-run figure says what it timed); and goals beyond the
    # ratio, each (what, met), which the row must also meet to pass (a peak memory bound).
    notes: tuple[str, ...] = ()
    also_required: tuple[tuple[str, bool], ...] = ()

    @property
    def ratio(self) -> float:
        return self.op.p50_us / self.baseline.p50_us

    @property
    def passed(self) -> bool:
        return self.ratio <= self.goal and all(met for _, met in self.also_required)


def compare(
    *, name: str, goal: float, op: Operation, baseline: Operation, iterations: int, informational: bool = False
) -> FigureResult:
    """Measure ``op`` against ``baseline`` in this run, with the SQL each sends, as one row of the table."""
    op_stats, baseline_stats = measure_pair(op, baseline, iterations=iterations)
    return FigureResult(
        name=name,
        op=op_stats,
        baseline=baseline_stats,
        goal=goal,
        op_queries=queries_of(op, 0),
        baseline_queries=queries_of(baseline, 0),
        informational=informational,
    )


def measure_pair(op: Operation, baseline: Operation, *, iterations: int) -> tuple[Stats, Stats]:
    """Time ``iterations`` calls of each, alternating call by call, after a warm-up of both.

    The disk's flush latency drifts over seconds on a shared machine; alternating every call
    (and which side goes first) puts both sides under the same drift, so the ratio holds
    even when the absolute figures move.
    """
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be between 1 and {MAX_ITERATIONS}, not {iterations}")
    warmup = max(iterations // 10, 20)
    for number in range(warmup):
        op(number)
        baseline(number)
    samples: tuple[list[int], list[int]] = ([], [])
    end = warmup + iterations
    for block_start in range(warmup, end, BLOCK):
        _time_block((op, baseline), range(block_start, min(block_start + BLOCK, end)), samples)
    return Stats.from_ns(samples[0]), Stats.from_ns(samples[1])


def _time_block(sides: tuple[Operation, Operation], numbers: range, into: tuple[list[int], list[int]]) -> None:
    # As timeit does: collect between blocks, never inside a timed call.
    gc.collect()
    gc.disable()
    try:
        clock = time.perf_counter_ns
        for number in numbers:
            for side in (0, 1) if number % 2 == 0 else (1, 0):
                start = clock()
                sides[side](number)
                into[side].append(clock() - start)
    finally:
        gc.enable()


def queries_of(call: Operation, number: int) -> tuple[str, ...]:
    """The SQL one call sends, as Django logs it (BEGIN and COMMIT included), outside the timed calls.

    Each entry is one round trip: psycopg2 sends a transaction's BEGIN on its own before the
    first statement in it.
    """
    with CaptureQueriesContext(connection) as captured:
        call(number)
    return tuple(query["sql"] for query in captured.captured_queries)
