"""Benchmark of the ticker store over a month: does a day-30 table cost what a day-1 one does?

Fills a throwaway database with synthetic observations, `--books` books for `--days` days
ending today (UTC), as the sampler writes them (one row per book and second, ids in time
order; each day from 00:00 to `--hours` o'clock, 23 by default, the rest left for the
measured writes), through the store's own DDL (day partitions). Each filled day is then
vacuumed and analyzed, as autovacuum does while a day arrives over its hours; without it
the measurements meet autovacuum working on a day inserted a second ago. On the first and
on the last day it measures, p95 of `--repeat` runs each:

- window write: what `lake/ticker_spread` and `ticker/spread_window_stats` do with the
  store: read a 10-minute window of every book (`window_records`) and compute its stats;
- alert pass: the sensor's pass (`AlertEvaluator.run_pass`) over 2 s of new observations
  of every book, written just before by the store, with the cursor caught up before;
- health: `bitso ticker health`'s query (`book_freshness`).

Then the retention run: every window of the days past a 1-day retention is reported
materialized (lake files and stats) on an ephemeral Dagster instance, and the
`ticker_retention` job proves and drops those days.

Run: .venv/bin/python bench/ticker_store.py [--books 20] [--days 30] [--repeat 20]
     [--hours 23] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import psycopg

from bitso_platform.defs.ticker.assets import TICKER_SPREAD
from bitso_platform.defs.ticker.partitions import partitions_start
from bitso_platform.defs.ticker.retention import SPREAD_WINDOW_STATS, ticker_retention, window_keys
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.ticker.alert_evaluator import AlertEvaluator, ensure_tables
from bitso_platform.ticker.alerts import AlertRules
from bitso_platform.ticker.health import book_freshness
from bitso_platform.ticker.records import Quote, SpreadRecord
from bitso_platform.ticker.store import ObservationStore, create_table, ensure_days
from bitso_platform.ticker.windows import window_records, window_stats

FILL_DAY = """
insert into ticker.spread_observations (
    orderbook_timestamp, book, bid, ask, spread, source, exchange_at, received_at, is_gap,
    recorded_at
)
select second_at, book, 100.0, 100.0 + noise, noise * 100 / (100.0 + noise), 'ws',
    second_at, second_at, false, second_at
from generate_series(
    %(start)s::timestamptz, %(end)s::timestamptz - interval '1 second', interval '1 second'
) as second_at
cross join unnest(%(books)s::text[]) as book
cross join lateral (select 0.05 + random() * 0.2 + 0 * extract(epoch from second_at) as noise) as n
order by second_at, book
"""
CATCH_UP = """
insert into ticker.spread_alert_cursor (evaluator, last_observation_id)
select 'spread_alerts', max(observation_id) from ticker.spread_observations
on conflict (evaluator) do update set last_observation_id = excluded.last_observation_id
"""


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


@contextmanager
def throwaway_database(server: str) -> Iterator[str]:
    name = f"bench_ticker_store_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"create database {name}")
    try:
        yield psycopg.conninfo.make_conninfo(server, dbname=name)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"drop database {name} with (force)")


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def fill(url: str, day: date, books: list[str], filled: timedelta) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_days(conn, [day])
        start = midnight(day)
        took = timed(
            lambda: conn.execute(FILL_DAY, {"start": start, "end": start + filled, "books": books})
        )
        conn.execute(f"vacuum analyze ticker.spread_observations_{day:%Y%m%d}")
        return took


def measure_day(
    url: str, day: date, books: list[str], repeat: int, filled: timedelta
) -> dict[str, float]:
    """p95 seconds of a window write, an alert pass and a health query on `day`."""
    tuple_books = tuple(books)
    windows = [midnight(day) + filled - timedelta(minutes=10 * (i + 1)) for i in range(repeat)]
    with psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC") as conn:
        conn.execute(CATCH_UP)
        window = [
            timed(
                lambda w=w: window_stats(
                    window_records(conn, w, w + timedelta(minutes=10), tuple_books)
                )
            )
            for w in windows
        ]
        health = [timed(lambda: book_freshness(conn, tuple_books)) for _ in range(repeat)]
    store = ObservationStore(url)
    evaluator = AlertEvaluator(url, AlertRules())
    alert = []
    first = int((midnight(day) + filled).timestamp())
    for i in range(repeat):
        seconds = range(first + 2 * i, first + 2 * i + 2)
        store.write([SpreadRecord.covered(s, quote(book, s)) for s in seconds for book in books])
        alert.append(timed(evaluator.run_pass))
    store.close()
    return {"window write": p95(window), "alert pass": p95(alert), "health": p95(health)}


def quote(book: str, second: int) -> Quote:
    return Quote(book, 100.0, 100.1, second + 0.2, second + 0.25, "ws")


def retention_run(url: str, days: list[date]) -> tuple[float, float, list[str]]:
    """Seconds to report every window of the expired days, and of the retention job."""
    instance = dg.DagsterInstance.ephemeral()
    expired = [day for day in days if day < days[-1] - timedelta(days=1)]
    keys = [key for day in expired for key in window_keys(day, partitions_start())]

    def report() -> None:
        for asset_key in (TICKER_SPREAD, SPREAD_WINDOW_STATS):
            for key in keys:
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(asset_key=asset_key, partition=key)
                )

    reported = timed(report)
    result: list[dg.ExecuteInProcessResult] = []
    config = {"ops": {"drop_expired_observation_days": {"config": {"retention_days": 1}}}}
    took = timed(
        lambda: result.append(
            ticker_retention.execute_in_process(
                instance=instance, resources={"warehouse": Warehouse(url=url)}, run_config=config
            )
        )
    )
    dropped = result[0].output_for_node("drop_expired_observation_days")
    return reported, took, dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=20)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--hours", type=int, default=23, help="hours of each day filled")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    books = [f"b{i:02d}_mxn" for i in range(args.books)]
    filled = timedelta(hours=args.hours)
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=args.days - 1 - i) for i in range(args.days)]
    with throwaway_database(args.postgres) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            create_table(conn)
            ensure_tables(conn)
        results: dict[str, dict[str, float]] = {}
        fills = []
        for number, day in enumerate(days, start=1):
            fills.append(fill(url, day, books, filled))
            print(f"day {number} ({day}) filled in {fills[-1]:.1f} s", flush=True)
            if number in (1, len(days)):
                results[f"day {number}"] = measure_day(url, day, books, args.repeat, filled)
                print(results[f"day {number}"], flush=True)
        with psycopg.connect(url) as conn:
            rows = conn.execute("select count(*) from ticker.spread_observations").fetchone()
            size = conn.execute(
                "select pg_size_pretty(sum(pg_total_relation_size(inhrelid)))"
                " from pg_inherits where inhparent = 'ticker.spread_observations'::regclass"
            ).fetchone()
        reported, took, dropped = retention_run(url, days)
    print(f"\n{args.books} books x {args.days} days of {args.hours} h: {rows[0]:,} rows, {size[0]}")
    print(f"fill per day: median {statistics.median(fills):.1f} s")
    print("| p95 (s) | " + " | ".join(results) + " |")
    print("|---|" + "---:|" * len(results))
    for measure in ("window write", "alert pass", "health"):
        print(f"| {measure} | " + " | ".join(f"{r[measure]:.3f}" for r in results.values()) + " |")
    print(
        f"retention: {len(dropped)} days dropped in {took:.1f} s "
        f"(reporting their windows took {reported:.1f} s)"
    )


if __name__ == "__main__":
    main()
