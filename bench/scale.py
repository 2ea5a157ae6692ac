"""Growth curves: the same benchmark at several scales of `bitso generate`, in one table.

For each --scales value, generate the snapshots (kept in --workdir between runs), then in a
throwaway database of --postgres-url measure

- a bare COPY of the five files, each into a table of text columns (bench/ingest.py);
- the whole platform load (the load_snapshots job: five files and core, one run) in a
  process of its own: wall time, each file's load, the core rebuild (its steps) and the
  process's peak RSS;
- the full backfill 2020-01-01..2023-08-23 with checks as one run, of the marts of the
  eight questions and then of every mart; one day, first and last, best of 3, of each
  (bench/marts.py);
- each question's p50/p95 through the API (`bitso_platform.questions` on one connection,
  bench/marts.py) and through `bitso ask` (whole processes, wall time);
- the warehouse size (pg_database_size).

It prints the raw numbers per scale, then one markdown table with a column per scale and
the targets (met / not met), and the load average at start and end: on a shared machine the
timings move with it.

Run: .venv/bin/python bench/scale.py [--scales 1 10 100] [--workdir DIR] [--keep]
"""

import argparse
import logging
import multiprocessing
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
from cli import BITSO  # bench/cli.py
from ingest import bare_copy  # bench/ingest.py
from marts import (  # bench/marts.py
    ADMIN_URL,
    FIRST_DAY,
    LAST_DAY,
    QUESTION_MARTS,
    QUESTIONS,
    Run,
    ask_marts,
    dagster_instance,
    load_run,
    p50_p95,
    parameter_sets,
    percentiles,
    quiet_logging,
    run_marts,
    run_row,
    throwaway_database,
)

from bitso_platform.defs.marts.catalog import MARTS, Mart
from bitso_platform.devtools.generate import generate_snapshots
from bitso_platform.snapshots.spec import EVENTS, SNAPSHOTS

log = logging.getLogger("bench.scale")


@dataclass
class Load:
    """The load_snapshots run as measured in its own process."""

    wall: float
    files: dict[str, float]  # each snapshot asset's own `seconds`
    core: float  # the core steps' durations
    peak_mb: float


@dataclass
class Backfill:
    full: Run
    first_day: Run
    last_day: Run


@dataclass
class ScaleResult:
    scale: float
    rows: dict[str, int]
    bare: dict[str, float]
    load: Load
    backfills: dict[str, Backfill]  # "questions", "every mart"
    api_ms: dict[str, tuple[float, float]]
    ask_ms: dict[str, tuple[float, float]]
    size_gb: float


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.epilog = "\n\n".join(__doc__.split("\n\n")[1:])
    parser.add_argument(
        "--scales", type=float, nargs="+", default=[1.0, 10.0, 100.0], help="default 1 10 100"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of `bitso generate`")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(".bitso/bench"),
        help="where generated snapshots are kept between runs (one folder per scale and seed)",
    )
    parser.add_argument(
        "--postgres-url",
        default=ADMIN_URL,
        help="admin URL of the server; throwaway databases are created and dropped on it",
    )
    parser.add_argument(
        "--question-runs", type=int, default=200, help="parameter sets per question (API)"
    )
    parser.add_argument("--ask-runs", type=int, default=5, help="`bitso ask` runs per question")
    parser.add_argument(
        "--keep", action="store_true", help="keep the warehouse databases (their URLs are printed)"
    )
    return parser.parse_args()


def snapshots(workdir: Path, scale: float, seed: int) -> Path:
    folder = workdir / f"scale-{scale:g}-seed-{seed}"
    if not (folder / "manifest.json").exists():
        log.info("scale %g: generating snapshots into %s", scale, folder)
        generate_snapshots(folder, scale=scale, seed=seed)
    return folder


def count_rows(folder: Path) -> dict[str, int]:
    return {
        s.name: sum(1 for _ in (folder / s.file).open("rb")) - 1
        for s in SNAPSHOTS.values()
        if (folder / s.file).exists()
    }


def bare_copies(url: str, folder: Path) -> dict[str, float]:
    return {
        s.name: bare_copy(url, folder / s.file, s.header)
        for s in SNAPSHOTS.values()
        if (folder / s.file).exists()
    }


def load_process(url: str, folder: Path, queue: multiprocessing.Queue) -> None:
    """In a fresh process (as `bitso load` is): the whole load, its parts and peak RSS."""
    started = time.perf_counter()
    result = load_run(url, folder)
    wall = time.perf_counter() - started
    files = {
        event.asset_key.path[-1]: float(event.materialization.metadata["seconds"].value)
        for event in result.get_asset_materialization_events()
        if event.asset_key and event.asset_key.path[0] == "raw"
        if "seconds" in event.materialization.metadata
    }
    core = sum(
        event.event_specific_data.duration_ms / 1000
        for event in result.all_events
        if event.is_step_success and event.step_key and event.step_key.startswith("core")
    )
    queue.put(Load(wall, files, core, peak_rss_mb()))


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux carries that across the
    fork and exec that start the process, so it would count the parent's memory too."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def platform_load(url: str, folder: Path) -> Load:
    context = multiprocessing.get_context("spawn")  # a fresh interpreter, as `bitso load` is
    queue = context.Queue()
    child = context.Process(target=load_process, args=(url, folder, queue))
    child.start()
    load = queue.get()
    child.join()
    return load


def backfill(instance: dg.DagsterInstance, url: str, marts: tuple[Mart, ...]) -> Backfill:
    def best_day(day: date) -> Run:
        runs = [run_marts(instance, url, day, day, marts) for _ in range(3)]
        return min(runs, key=lambda run: run.wall)

    full = run_marts(instance, url, FIRST_DAY, LAST_DAY, marts)
    return Backfill(full, best_day(FIRST_DAY), best_day(LAST_DAY))


def ask_arguments(name: str, p: dict) -> list[str]:
    """`bitso ask` arguments of a question for one parameter set of bench/marts.py."""
    day = p["day"].isoformat()
    return {
        "active_users": ["active-users", "--day", day],
        "users_without_deposit": ["users-without-deposit", "--as-of", day],
        "frequent_depositors": [
            *("frequent-depositors", "--day", day, "--more-than", str(p["more_than"])),
        ],
        "last_login": ["last-login", "--user", p["user_id"], "--as-of", day],
        "login_count": [
            *("login-count", "--user", p["user_id"]),
            *("--from", p["from_day"].isoformat(), "--to", p["to_day"].isoformat()),
        ],
        "currencies_deposited": ["currencies-deposited", "--day", day],
        "currencies_withdrawn": ["currencies-withdrawn", "--day", day],
        "amount_deposited": ["amount-deposited", "--currency", p["currency"], "--day", day],
    }[name]


def ask_timings(url: str, sets: list[dict], runs: int) -> dict[str, tuple[float, float]]:
    """p50/p95 wall ms of `bitso ask` per question over `runs` processes, after one warm-up."""
    env = {**os.environ, "BITSO_WAREHOUSE_URL": url}
    timed = {}
    for name in QUESTIONS:
        ms = []
        for i, params in enumerate(sets[: runs + 1]):
            started = time.perf_counter()
            subprocess.run(
                [BITSO, "ask", *ask_arguments(name, params)],
                env=env,
                check=True,
                capture_output=True,
            )
            if i:
                ms.append((time.perf_counter() - started) * 1000)
        timed[name] = p50_p95(ms)
    return timed


def bench_scale(scale: float, args: argparse.Namespace) -> ScaleResult:
    folder = snapshots(args.workdir, scale, args.seed)
    rows = count_rows(folder)
    with throwaway_database(args.postgres_url, args.keep) as url:
        log.info("scale %g: bare COPY of the five files", scale)
        bare = bare_copies(url, folder)
        log.info("scale %g: the whole load (five files and core)", scale)
        load = platform_load(url, folder)
        backfills = {}
        with dagster_instance(args.postgres_url) as instance:
            for label, marts in (("questions", QUESTION_MARTS), ("every mart", MARTS)):
                log.info("scale %g: full backfill and one day, %s", scale, label)
                backfills[label] = backfill(instance, url, tuple(marts))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("set time zone 'UTC'")
            sets = parameter_sets(conn, args.question_runs, args.seed)
            log.info("scale %g: questions through the API", scale)
            api = {name: percentiles(conn, ask_marts(name), sets) for name in QUESTIONS}
            size = conn.execute("select pg_database_size(current_database())").fetchone()[0]
        log.info("scale %g: questions through `bitso ask`", scale)
        ask = ask_timings(url, sets, args.ask_runs)
        if args.keep:
            log.info("scale %g: kept %s", scale, url)
    return ScaleResult(scale, rows, bare, load, backfills, api, ask, size / 1e9)


# A growth table row: label, target, a result's value, whether it meets the target (None: no
# target).
Row = tuple[str, str, Callable[[ScaleResult], str], Callable[[ScaleResult], bool] | None]


def ratio(r: ScaleResult, names: tuple[str, ...]) -> float:
    return sum(r.bare[n] for n in names) / sum(r.load.files[n] for n in names)


def one_day(r: ScaleResult, label: str) -> tuple[float, float]:
    return r.backfills[label].first_day.wall, r.backfills[label].last_day.wall


def worst(timed: dict[str, tuple[float, float]]) -> float:
    return max(p95 for _, p95 in timed.values())


def rows() -> list[Row]:
    files = tuple(s.name for s in SNAPSHOTS.values())
    return [
        ("users / events rows", "", lambda r: f"{r.rows['users']:,} / {r.rows['events']:,}", None),
        ("bare COPY, five files (s)", "", lambda r: f"{sum(r.bare.values()):.1f}", None),
        ("snapshot load, five files (s)", "", lambda r: f"{sum(r.load.files.values()):.1f}", None),
        (
            "load / bare COPY, events",
            ">= 0.8",
            lambda r: f"{ratio(r, (EVENTS.name,)):.2f}",
            lambda r: ratio(r, (EVENTS.name,)) >= 0.8,
        ),
        (
            "load / bare COPY, five files",
            ">= 0.8",
            lambda r: f"{ratio(r, files):.2f}",
            lambda r: ratio(r, files) >= 0.8,
        ),
        ("core rebuild (s)", "", lambda r: f"{r.load.core:.1f}", None),
        (
            "whole load, five files and core, one run (s)",
            "<= 300",
            lambda r: f"{r.load.wall:.1f}",
            lambda r: r.load.wall <= 300,
        ),
        (
            "loader peak RSS (MB)",
            "<= 512",
            lambda r: f"{r.load.peak_mb:,.0f}",
            lambda r: r.load.peak_mb <= 512,
        ),
        (
            "full backfill, marts of the eight questions (s)",
            "<= 300",
            lambda r: f"{r.backfills['questions'].full.wall:.1f}",
            lambda r: r.backfills["questions"].full.wall <= 300,
        ),
        (
            "full backfill, every mart (s)",
            "<= 600",
            lambda r: f"{r.backfills['every mart'].full.wall:.1f}",
            lambda r: r.backfills["every mart"].full.wall <= 600,
        ),
        (
            "one day, marts of the questions, first / last (s)",
            "<= 2",
            lambda r: "{:.2f} / {:.2f}".format(*one_day(r, "questions")),
            lambda r: max(one_day(r, "questions")) <= 2,
        ),
        (
            "one day, every mart, first / last (s)",
            "<= 2",
            lambda r: "{:.2f} / {:.2f}".format(*one_day(r, "every mart")),
            lambda r: max(one_day(r, "every mart")) <= 2,
        ),
        (
            "question p95, API, worst of eight (ms)",
            "<= 10",
            lambda r: f"{worst(r.api_ms):.2f}",
            lambda r: worst(r.api_ms) <= 10,
        ),
        (
            "question p95, `bitso ask`, worst of eight (ms)",
            "<= 500",
            lambda r: f"{worst(r.ask_ms):.0f}",
            lambda r: worst(r.ask_ms) <= 500,
        ),
        ("warehouse size (GB)", "", lambda r: f"{r.size_gb:.2f}", None),
    ]


def growth_table(results: list[ScaleResult]) -> str:
    lines = [
        "| measure | target | " + " | ".join(f"scale {r.scale:g}" for r in results) + " |",
        "|---|---|" + "---:|" * len(results),
    ]
    for label, target, value, meets in rows():
        cells = [
            value(r) + ("" if meets is None else " met" if meets(r) else " **not met**")
            for r in results
        ]
        lines.append(f"| {label} | {target} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def details(r: ScaleResult) -> str:
    lines = [
        f"### Scale {r.scale:g}",
        "",
        "| file | rows | bare COPY s | platform load s | bare / load |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {name} | {r.rows[name]:,} | {r.bare[name]:.2f} | {r.load.files[name]:.2f} |"
            f" {r.bare[name] / r.load.files[name]:.2f} |"
            for name in r.bare
        ),
        "",
        f"Whole load {r.load.wall:.1f} s (core steps {r.load.core:.1f} s), loader peak RSS"
        f" {r.load.peak_mb:,.0f} MB; warehouse {r.size_gb:.2f} GB.",
        "",
        "| build, one run | wall s | Postgres: marts s | checks s | Dagster s |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, b in r.backfills.items():
        for what, run in (
            (f"full backfill {FIRST_DAY}..{LAST_DAY}", b.full),
            (f"one day {FIRST_DAY}, best of 3", b.first_day),
            (f"one day {LAST_DAY}, best of 3", b.last_day),
        ):
            lines.append(run_row(f"{label}: {what}", run))
    lines += [
        "",
        "| question | API p50 ms | API p95 ms | `bitso ask` p50 ms | `bitso ask` p95 ms |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {n} | {r.api_ms[n][0]:.2f} | {r.api_ms[n][1]:.2f} | {r.ask_ms[n][0]:.0f} |"
            f" {r.ask_ms[n][1]:.0f} |"
            for n in QUESTIONS
        ),
        "",
    ]
    return "\n".join(lines)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def main() -> None:
    args = parse_args()
    quiet_logging()
    started = load_average()
    results = [bench_scale(scale, args) for scale in args.scales]
    print(*(details(r) for r in results), sep="\n")
    print(growth_table(results))
    print(f"\nload average (1, 5, 15 min) at start {started}, at end {load_average()}")


if __name__ == "__main__":
    main()
