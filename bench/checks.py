"""Benchmark of the marts' checks on the first and the last day: does a day cost more late?

On a warehouse with every mart built over 2020-01-01..2023-08-23 (loaded from --snapshots
and built here in a throwaway database, or given with --loaded URL), measure

- each check's SQL over one day, the first and the last, best of --repeat, as the check step
  runs it (`run_check` on one connection, the step's session settings);
- one day of every mart (a single-partition run of the marts and their checks, the segments
  audit excepted, as `daily_marts` runs it), the first and the last, best of 3.

A check whose last day costs much more than its first reads history rather than the day.
The segments check is left out (the `segments_audit` job runs it: it evaluates every segment
over the whole population as of the day).

Run: .venv/bin/python bench/checks.py --snapshots DIR   (e.g. `bitso generate --scale 10 --seed 1`)
     .venv/bin/python bench/checks.py --loaded URL [--built]
"""

import argparse
import logging
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import psycopg
from marts import (  # bench/marts.py
    ADMIN_URL,
    FIRST_DAY,
    LAST_DAY,
    Run,
    dagster_instance,
    load_run,
    quiet_logging,
    run_marts,
    run_row,
    throwaway_database,
)

from bitso_platform.defs.marts.assets import asset_key
from bitso_platform.defs.marts.catalog import MARTS
from bitso_platform.defs.marts.checks import prepare_session, run_check
from bitso_platform.defs.marts.partitions import Window
from bitso_platform.defs.marts.schedules import SEGMENTS_CHECK

log = logging.getLogger("bench.checks")
DAYS = (FIRST_DAY, LAST_DAY)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--snapshots", type=Path, help="Snapshots to load into a new database.")
    source.add_argument("--loaded", metavar="URL", help="A database loaded by `bitso load`.")
    parser.add_argument(
        "--built", action="store_true", help="With --loaded: its marts are built already."
    )
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each check per day.")
    parser.add_argument("--postgres-url", default=ADMIN_URL, help="Admin URL of the server.")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    return parser.parse_args()


def check_seconds(url: str, day: date, repeat: int) -> dict[str, float]:
    """Each check's best time over the one-day window, by `table.check`."""
    window = Window(day, day + timedelta(days=1))
    timed = {}
    with psycopg.connect(url) as conn:
        for mart in MARTS:
            for check in mart.checks:
                if dg.AssetCheckKey(asset_key(mart), check.name) == SEGMENTS_CHECK:
                    continue
                runs = []
                for _ in range(repeat):
                    prepare_session(conn)
                    started = time.perf_counter()
                    result = run_check(conn, mart, check, window)
                    runs.append(time.perf_counter() - started)
                    conn.rollback()
                    if not result.passed:
                        raise RuntimeError(f"{mart.table}.{check.name} failed on {day}")
                timed[f"{mart.table}.{check.name}"] = min(runs)
    return timed


def one_day_runs(url: str, postgres_url: str, build: bool) -> dict[date, Run]:
    """The best of 3 single-partition runs of every mart, first and last day."""
    with dagster_instance(postgres_url) as instance:
        if build:
            log.info("building every mart %s..%s in one run", FIRST_DAY, LAST_DAY)
            run_marts(instance, url, FIRST_DAY, LAST_DAY, MARTS)
        return {
            day: min((run_marts(instance, url, day, day, MARTS) for _ in range(3)), key=_wall)
            for day in DAYS
        }


def _wall(run: Run) -> float:
    return run.wall


def report(checks: dict[date, dict[str, float]], runs: dict[date, Run]) -> str:
    first, last = (checks[day] for day in DAYS)
    lines = [
        f"| check, one day | {FIRST_DAY} ms | {LAST_DAY} ms |",
        "|---|---:|---:|",
        *(f"| {name} | {first[name] * 1000:.0f} | {last[name] * 1000:.0f} |" for name in first),
        f"| all checks | {sum(first.values()) * 1000:.0f} | {sum(last.values()) * 1000:.0f} |",
        "",
        "| one day of every mart, best of 3 | wall s | Postgres: marts s | checks s | Dagster s |",
        "|---|---:|---:|---:|---:|",
        *(run_row(str(day), runs[day]) for day in DAYS),
    ]
    return "\n".join(lines)


def measure(url: str, args: argparse.Namespace, build: bool) -> str:
    runs = one_day_runs(url, args.postgres_url, build)
    log.info("each check's SQL, first and last day")
    checks = {day: check_seconds(url, day, args.repeat) for day in DAYS}
    return report(checks, runs)


def main() -> None:
    args = parse_args()
    quiet_logging()
    if args.loaded:
        print(measure(args.loaded, args, build=not args.built))
        return
    with throwaway_database(args.postgres_url, args.keep) as url:
        log.info("loading %s into %s", args.snapshots, url)
        load_run(url, args.snapshots)
        print(measure(url, args, build=True))
        if args.keep:
            log.info("kept %s", url)


if __name__ == "__main__":
    main()
