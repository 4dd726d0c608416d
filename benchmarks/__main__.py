"""Run the benchmark figures on PostgreSQL and print each beside its floor: `python -m benchmarks`."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.environment import BenchContext
    from benchmarks.harness import FigureResult

# One module per figure, each with run(context, *, iterations) returning a FigureResult, or a list of
# them when the figure has several rows. Add new ones here.
# Named, not imported: they import Django models, which exist only after environment.configure().
FIGURES = (
    "benchmarks.reveal",
    "benchmarks.concurrency",
    "benchmarks.create",
    "benchmarks.list",
    "benchmarks.rotation",
    "benchmarks.credential_tests",
    "benchmarks.plugin_clone",
    "benchmarks.expiry_sweep",
)


def main(argv: list[str] | None = None) -> int:
    from benchmarks import environment
    from benchmarks.harness import DEFAULT_ITERATIONS, MAX_ITERATIONS

    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("figures", nargs="*", metavar="FIGURE", help="run only these (e.g. reveal create)")
    parser.add_argument(
        "-n",
        "--iterations",
        type=int,
        default=DEFAULT_ITERATIONS,
        help=f"timed calls of each side per figure (default {DEFAULT_ITERATIONS}, at most {MAX_ITERATIONS})",
    )
    parser.add_argument("--sql", action="store_true", help="also print the SQL each side sends per call")
    args = parser.parse_args(argv)
    modules = _select(args.figures, parser)
    if not 1 <= args.iterations <= MAX_ITERATIONS:
        parser.error(f"--iterations must be between 1 and {MAX_ITERATIONS}")

    started = time.perf_counter()
    try:
        database = environment.configure()
    except environment.BenchSetupError as exc:
        print(f"benchmarks: {exc}", file=sys.stderr)
        return 2
    environment.migrate()
    context = environment.seed(database)
    _print_header(context, args.iterations)

    results = []
    for module_name in modules:
        module = importlib.import_module(module_name)
        print(f"  running {module.NAME} ...", flush=True)
        outcome = module.run(context, iterations=args.iterations)
        results.extend(outcome if isinstance(outcome, list) else [outcome])

    print()
    print(format_table(results))
    if args.sql:
        for result in results:
            print(format_sql(result))
    graded = [r for r in results if not r.informational]
    print(
        f"\n{sum(r.passed for r in graded)} of {len(graded)} met their goal in {time.perf_counter() - started:.0f} s."
    )
    # A missed goal is a finding, not a failure of the run: the table says MISS and we exit 0.
    return 0


def _select(names: list[str], parser: argparse.ArgumentParser) -> list[str]:
    if not names:
        return list(FIGURES)
    known = {module.rsplit(".", 1)[1]: module for module in FIGURES}
    unknown = [name for name in names if name not in known]
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in names]


def _print_header(context: BenchContext, iterations: int) -> None:
    import django

    print(
        f"Latchkey benchmarks: PostgreSQL {context.server_version} (database {context.database}), "
        f"Django {django.get_version()}, Python {platform.python_version()}"
    )
    print(
        f"  {len(context.credential_ids):,} {context.type_slug} credentials seeded in {context.seed_seconds:.1f} s "
        f"(ciphertext {context.ciphertext_bytes:,} bytes each); "
        f"{iterations:,} timed calls per side, alternating call by call after a warm-up"
    )


def format_table(results: list[FigureResult]) -> str:
    header = (
        "figure",
        "op p50 µs",
        "op mean µs",
        "floor p50 µs",
        "floor mean µs",
        "N",
        "queries op/floor",
        "ratio",
        "goal",
        "result",
    )
    rows = [
        (
            r.name,
            f"{r.op.p50_us:,.1f}",
            f"{r.op.mean_us:,.1f}",
            f"{r.baseline.p50_us:,.1f}",
            f"{r.baseline.mean_us:,.1f}",
            f"{r.op.n:,}",
            f"{len(r.op_queries)}/{len(r.baseline_queries)}" if r.op_queries or r.baseline_queries else "-",
            f"{r.ratio:.2f}",
            "(info)" if r.informational else f"≤ {r.goal:g}",
            "-" if r.informational else "PASS" if r.passed else "MISS",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        # The figure's name reads left to right; numbers line up on the right.
        return "  ".join([cells[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))])

    lines = [line(header), "  ".join("-" * w for w in widths), *(line(row) for row in rows)]
    notes = (
        "ratio = op p50 / floor p50, both measured in this run. Queries: the statements one call sends, "
        "BEGIN and COMMIT included (each a round trip); --sql lists them. "
        "(info): shown for comparison, no goal."
    )
    figure_notes = []
    for r in results:
        figure_notes += [f"{r.name}: {note}" for note in r.notes]
        figure_notes += [f"{r.name}: also required, {what}: {'met' if ok else 'MISS'}" for what, ok in r.also_required]
    return "\n".join([*lines, "", notes, *figure_notes])


def format_sql(result: FigureResult) -> str:
    def side(label: str, queries: tuple[str, ...]) -> list[str]:
        return [f"  {label}:"] + [f"    {n}. {' '.join(q.split())[:150]}" for n, q in enumerate(queries, start=1)]

    return "\n".join([f"\n{result.name}:", *side("op", result.op_queries), *side("floor", result.baseline_queries)])


if __name__ == "__main__":
    sys.exit(main())
