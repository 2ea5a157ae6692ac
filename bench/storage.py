"""Benchmark of the Dagster instance storage: the scale-10 full marts backfill on each storage.

The setup of bench/marts.py (`bitso generate`, the load_snapshots job into a throwaway
database), then the single-run backfill of every mart over 2020-01-01..2023-08-23 with
their checks, once per storage and repetition, each on a fresh instance database of the
same server, with DAGSTER_EVENT_BATCH_SIZE set. Repetitions alternate the order of the
storages (the machine may be shared); the report gives every run, the load average before
it, and the median per storage.

Storages (--storages, any of):
- stock: dagster-postgres as shipped (`storage: postgres`);
- stock-async: the same with `synchronous_commit=off` in the connection options of its URL;
- bulk-planned: `BulkPlannedPostgresStorage` (bitso_platform/dagster_storage.py), as
  deployed.

Run: .venv/bin/python bench/storage.py [--scale 10] [--repetitions 2]
     .venv/bin/python bench/storage.py --loaded URL   (a database loaded by `bitso load`)
"""

import argparse
import json
import logging
import os
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg
from marts import (  # bench/marts.py
    FIRST_DAY,
    LAST_DAY,
    Run,
    load,
    quiet_logging,
    run_marts,
    throwaway_database,
)
from sqlalchemy.engine import URL, make_url

from bitso_platform.dagster_storage import EVENT_BATCH_SIZE
from bitso_platform.devtools.generate import generate_snapshots

log = logging.getLogger("bench.storage")

# Written without a space: a URL renders it as "+", which libpq does not read as one.
ASYNCHRONOUS_COMMIT = {"options": "-csynchronous_commit=off"}


def stock(url: URL) -> dict:
    return {"postgres": {"postgres_url": url.render_as_string(hide_password=False)}}


def stock_async(url: URL) -> dict:
    return stock(url.update_query_dict(ASYNCHRONOUS_COMMIT))


def bulk_planned(url: URL) -> dict:
    return {
        "custom": {
            "module": "bitso_platform.dagster_storage",
            "class": "BulkPlannedPostgresStorage",
            "config": stock(url)["postgres"],
        }
    }


STORAGES = {"stock": stock, "stock-async": stock_async, "bulk-planned": bulk_planned}


@dataclass
class Measured:
    storage: str
    repetition: int
    load_average: float
    run: Run
    events: int


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--repetitions", type=int, default=2)
    parser.add_argument("--storages", nargs="+", choices=STORAGES, default=list(STORAGES))
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1/postgres",
        help="Admin URL of the server; throwaway databases are created and dropped on it.",
    )
    parser.add_argument("--loaded", metavar="URL", help="A database loaded by `bitso load`.")
    return parser.parse_args()


@contextmanager
def instance_on(storage: str, admin_url: str) -> Iterator[tuple[dg.DagsterInstance, str]]:
    """An instance whose storage is `storage`, in a new database; yields it and that database."""
    with (
        throwaway_database(admin_url, keep=False) as conninfo,
        tempfile.TemporaryDirectory() as home,
    ):
        url = make_url(admin_url).set(
            database=psycopg.conninfo.conninfo_to_dict(conninfo)["dbname"]
        )
        config = {"telemetry": {"enabled": False}, "storage": STORAGES[storage](url)}
        Path(home, "dagster.yaml").write_text(json.dumps(config))
        with dg.DagsterInstance.from_config(home) as instance:
            yield instance, conninfo


def backfill(storage: str, repetition: int, admin_url: str, warehouse_url: str) -> Measured:
    load_average = os.getloadavg()[0]
    with instance_on(storage, admin_url) as (instance, conninfo):
        run = run_marts(instance, warehouse_url, FIRST_DAY, LAST_DAY)
        with psycopg.connect(conninfo) as conn:
            events = conn.execute("select count(*) from event_logs").fetchone()[0]  # type: ignore[index]
    log.info("%s #%d: %.1f s (load %.2f)", storage, repetition, run.wall, load_average)
    return Measured(storage, repetition, load_average, run, events)


def measure(url: str, args: argparse.Namespace) -> list[Measured]:
    os.environ["DAGSTER_EVENT_BATCH_SIZE"] = EVENT_BATCH_SIZE  # Dagster's own setting
    results = []
    for repetition in range(1, args.repetitions + 1):
        order = args.storages if repetition % 2 else list(reversed(args.storages))
        results += [backfill(storage, repetition, args.postgres_url, url) for storage in order]
    return results


def markdown(results: list[Measured]) -> str:
    lines = [
        "| storage | run | load avg (1 min) before | wall s | Postgres: marts s | checks s |"
        " Dagster bookkeeping s | event_logs rows |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        lines.append(
            f"| {m.storage} | {m.repetition} | {m.load_average:.2f} | {m.run.wall:.1f} |"
            f" {sum(m.run.marts.values()):.1f} | {m.run.checks:.1f} | {m.run.dagster:.1f} |"
            f" {m.events:,} |"
        )
    lines += ["", "| storage | median wall s | median Dagster bookkeeping s |", "|---|---:|---:|"]
    for storage in dict.fromkeys(m.storage for m in results):
        runs = [m.run for m in results if m.storage == storage]
        wall = statistics.median(r.wall for r in runs)
        lines.append(
            f"| {storage} | {wall:.1f} | {statistics.median(r.dagster for r in runs):.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    quiet_logging()
    if args.loaded:
        print(markdown(measure(args.loaded, args)))
        return
    with tempfile.TemporaryDirectory() as folder:
        log.info("scale %g: generating snapshots", args.scale)
        generate_snapshots(Path(folder), scale=args.scale, seed=args.seed)
        with throwaway_database(args.postgres_url, keep=False) as url:
            log.info("scale %g: loading %s", args.scale, url)
            load(url, Path(folder))
            print(markdown(measure(url, args)))


if __name__ == "__main__":
    main()
