"""Compare two builds on one benchmark: runs it alternately on each checkout (before, after,
before, after, ...), each with its own checkout's bench script and virtualenv, and prints the
median of each figure per build. Alternating spreads a shared host's slow and fast spells over
both builds instead of handing one of them the slow half.

Run: .venv/bin/python bench/compare_builds.py --before DIR --after DIR send [--rounds 3]
         [-- extra arguments for the benchmark, e.g. --recipients 200000]
Each checkout needs its own .venv with the package installed (`pip install -e '.[dev]'`).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    """One number a benchmark prints: its label, the pattern that finds it, and which way is
    better (True: higher is better)."""

    label: str
    pattern: str
    higher_is_better: bool


NUMBER = r"([\d,]+(?:\.\d+)?)"
FIGURES: dict[str, tuple[str, list[Figure]]] = {
    "send": (
        "bench_send.py",
        [
            Figure("ratio hand-off / baseline", rf"ratio hand-off / baseline: {NUMBER}", True),
            Figure("hand-off (recipients/s)", rf"hand-off: .* = {NUMBER}/s", True),
            Figure("baseline (recipients/s)", rf"pre-built bodies\): {NUMBER}/s", True),
            Figure("start as a whole (s)", rf"start as a whole .*: {NUMBER} s", False),
            Figure("materialise (s)", rf"materialise [\d,]+ sends .*: {NUMBER} s", False),
            Figure("peak RSS, sending (MB)", rf"peak RSS of this process: {NUMBER} MB", False),
        ],
    ),
    "webhook": (
        "bench_webhook.py",
        [
            Figure("ratio stored / baseline", rf"ratio stored/baseline: {NUMBER}", True),
            Figure("stored (events/s)", rf"stored \(verify .*\): {NUMBER} events/s", True),
            Figure("baseline (events/s)", rf"baseline \(verify .*\): {NUMBER} events/s", True),
        ],
    ),
    "metrics": (
        "bench_metrics.py",
        [
            Figure("ratio metrics / baseline", rf"ratio metrics/baseline: {NUMBER}", False),
            Figure("campaign_metrics (ms)", rf"campaign_metrics: {NUMBER} ms", False),
            Figure("baseline COUNT(*) (ms)", rf"baseline SELECT COUNT\(\*\).*: {NUMBER} ms", False),
        ],
    ),
}


def run_once(checkout: Path, script: str, extra: list[str]) -> tuple[str, float]:
    """One run of the benchmark in `checkout` with that checkout's own interpreter."""
    python = checkout / ".venv" / "bin" / "python"
    started = time.perf_counter()
    result = subprocess.run(
        [str(python), str(checkout / "bench" / script), *extra],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"{script} failed in {checkout} (exit {result.returncode}):\n{result.stderr}")
    return result.stdout, time.perf_counter() - started


def parse(output: str, figures: list[Figure], checkout: Path) -> dict[str, float]:
    values = {}
    for figure in figures:
        found = re.search(figure.pattern, output)
        if found is None:
            sys.exit(f"no '{figure.label}' in the output of the run in {checkout}:\n{output}")
        values[figure.label] = float(found.group(1).replace(",", ""))
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the old build")
    parser.add_argument("--after", type=Path, required=True, help="checkout of the new build")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("benchmark", choices=sorted(FIGURES))
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    options = parser.parse_args()
    extra = options.extra[1:] if options.extra[:1] == ["--"] else options.extra
    script, figures = FIGURES[options.benchmark]
    builds = {"before": options.before.resolve(), "after": options.after.resolve()}

    results: dict[str, list[dict[str, float]]] = {name: [] for name in builds}
    for round_number in range(1, options.rounds + 1):
        for name, checkout in builds.items():
            output, seconds = run_once(checkout, script, extra)
            values = parse(output, figures, checkout)
            results[name].append(values)
            first = figures[0].label
            print(
                f"round {round_number} {name}: {first} {values[first]:,.2f} ({seconds:.0f} s)",
                flush=True,
            )

    print(f"\n{script} {' '.join(extra)}: medians of {options.rounds} alternating rounds")
    print("| figure | before | after | after / before | better is |")
    print("|---|---|---|---|---|")
    for figure in figures:
        before, after = (
            statistics.median(run[figure.label] for run in results[name]) for name in builds
        )
        change = f"{after / before:.2f}" if before else "-"
        direction = "higher" if figure.higher_is_better else "lower"
        print(f"| {figure.label} | {before:,.2f} | {after:,.2f} | {change} | {direction} |")
    for name in builds:
        runs = ", ".join(f"{run[figures[0].label]:,.2f}" for run in results[name])
        print(f"{name} runs, {figures[0].label}: {runs}")


if __name__ == "__main__":
    main()
