"""Measure the replaced engine and this project back to back and print one table of ratios.

Run from the project root (not collected by pytest)::

    .venv/bin/python -m tests.benchmarks.bench_compare
    .venv/bin/python -m tests.benchmarks.bench_compare --seed-bench ../shared/seed-bench --runs 7

The replaced engine (django-dynamic-workflows 1.9.1) runs from the seed-bench folder
(``--seed-bench``, default ``../shared/seed-bench`` beside the project) in its own throwaway
virtualenv (``PEER_VENV``, default ``.seed-venv`` in the project root, built by the folder's
``setup.sh`` when missing). Then this project's engine and GraphQL benchmarks run on SQLite,
in the same sitting, so the ratios compare like with like: the machine, its load and the
database are the same. Timings still move from run to run; the ratios move much less.

What is compared (all on SQLite):

- the whole structure of W workflows x 5 pipelines x 5 stages: the replaced engine's
  ``get_detailed_workflow_data(company_id=)`` (plain dicts, in-process, best of 3) against
  this project's nested ``workflows`` GraphQL query over HTTP (every page, median), twice:
  *cold*, the first request after a change of a template (the structure cache misses), and
  *warm*, the same request again (served from the cache);
- each decision as one call including its after-commit listeners: the replaced engine's
  service call (one run each, as its harness measures them) against this project's service
  call (median), queries and milliseconds.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.benchmarks import bench_engine, bench_graphql
from tests.benchmarks.report import print_table

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SIZES = ("50x5x5", "200x5x5")
# This project's engine benchmark label -> the replaced engine's per_action key.
DECISIONS = {
    "attach+start (clone 2 pipelines / 4 stages)": "attach_and_start",
    "approve, stage move (round robin -> next)": "approve",
    "reject (Budget Approval, anyone)": "reject",
    "delegate (Initial Review)": "delegate",
    "request_resubmission (Budget -> Initial)": "resubmission",
}
# Targets of the performance issue: ratio ours / replaced engine, and total queries.
TARGET_RATIO = {"structure": 1.0, "decision": 0.3}
TARGET_QUERIES = {
    "attach_and_start": 25,
    "approve": 20,
    "reject": 15,
    "delegate": 15,
    "resubmission": 15,
}


def run_seed(seed_bench: Path, sizes: tuple[str, ...]) -> dict[str, Any]:
    """Run the replaced engine's harness and return its ``perf`` object."""
    venv = Path(os.environ.get("PEER_VENV", PROJECT_ROOT / ".seed-venv"))
    env = {**os.environ, "PEER_VENV": str(venv), "PEER_SIZES": ",".join(sizes)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DATABASE_URL", None)
    if not (venv / "bin" / "python").exists():
        subprocess.run(["bash", str(seed_bench / "setup.sh")], env=env, check=True)
    with tempfile.TemporaryDirectory() as scratch:
        env["PEER_DB"] = str(Path(scratch) / "peer.sqlite3")
        completed = subprocess.run(
            [str(venv / "bin" / "python"), str(seed_bench / "run_reference.py")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
        raise SystemExit("the replaced engine's harness failed")
    return json.loads(lines[-1])["perf"]


def _sqlite_target(tmp: str) -> str:
    return f"sqlite:///{tmp}/unused.sqlite3"


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "n/a"


def _verdict(ok: bool) -> str:
    return "met" if ok else "missed"


def structure_rows(seed: dict[str, Any], ours: dict[str, Any]) -> list[list[object]]:
    """One row per size for the first request after a change (cold), one for the next (warm)."""
    rows: list[list[object]] = []
    for measured in ours["sizes"]:
        size = measured["size"]
        theirs = seed[size]["list_by_company"]
        for label, key in (("cold", "workflows"), ("warm", "workflows_warm")):
            mine = measured[key]
            ratio = mine["median_ms"] / theirs["ms"]
            rows.append(
                [
                    f"structure {size}, {label}",
                    f"{theirs['ms']:.0f} ms, {theirs['queries']} q",
                    f"{mine['median_ms']:.0f} ms, {mine['queries_max']} q "
                    f"({measured['pages']} pages)",
                    _ratio(mine["median_ms"], theirs["ms"]),
                    f"<= {TARGET_RATIO['structure']:.1f}x: "
                    f"{_verdict(ratio <= TARGET_RATIO['structure'])}",
                ]
            )
    return rows


def decision_rows(seed: dict[str, Any], ours: dict[str, Any]) -> list[list[object]]:
    by_label = {operation["label"]: operation for operation in ours["operations"]}
    rows: list[list[object]] = []
    for label, key in DECISIONS.items():
        operation = by_label[label]
        theirs = seed[key] if key == "attach_and_start" else seed["per_action"][key][0]
        queries = operation["queries"][1] + operation["after_commit_queries"][1]
        milliseconds = operation["median_ms"] + operation["after_commit_median_ms"]
        ratio = milliseconds / theirs["ms"]
        ok = ratio <= TARGET_RATIO["decision"] and queries <= TARGET_QUERIES[key]
        rows.append(
            [
                key,
                f"{theirs['ms']:.1f} ms, {theirs['queries']} q",
                f"{milliseconds:.1f} ms, {queries} q",
                _ratio(milliseconds, theirs["ms"]),
                f"<= {TARGET_RATIO['decision']:.1f}x and <= {TARGET_QUERIES[key]} q: "
                f"{_verdict(ok)}",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seed-bench", type=Path, default=PROJECT_ROOT.parent / "shared" / "seed-bench"
    )
    parser.add_argument("--runs", type=int, default=7, help="measured runs per request here")
    options = parser.parse_args(argv)
    if not (options.seed_bench / "run_reference.py").exists():
        raise SystemExit(f"no run_reference.py in {options.seed_bench}: pass --seed-bench")

    print(f"# Side by side, {datetime.date.today()}, {os.cpu_count()} cores, SQLite", flush=True)
    seed = run_seed(options.seed_bench, SIZES)
    with tempfile.TemporaryDirectory() as tmp:
        engine = bench_engine._spawn(_sqlite_target(tmp), options.runs, False)
        graphql = bench_graphql._spawn(_sqlite_target(tmp), list(SIZES), options.runs, False)
    print()
    print_table(
        ["path", "django-dynamic-workflows 1.9.1", "WorkflowQL", "ratio", "target"],
        [*structure_rows(seed, graphql), *decision_rows(seed, engine)],
    )


if __name__ == "__main__":
    main()
