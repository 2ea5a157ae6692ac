"""Benchmark of the order-book capture: sampler CPU per book and coverage, on a replay.

The replay exchange plays a slice of the real fixture (this process) at --speed times
real time, in each of --modes: `change-only` (a book's snapshot only when its bid or ask
changes, keep-alives between, as Bitso's channel does) and `every-second` (a message per
recorded second). The sampler runs in a process of its own, so its CPU time is measured
alone, and writes into a throwaway Postgres database. Each book count in --books is one
run per mode: 2 books are the fixture's; more are synthesised from it (renamed, shifted
in time by 97 s per book so their gaps fall elsewhere, prices scaled).

    cpu per book = sampler process CPU seconds / wall seconds / books
    coverage     = seconds recorded with the feed's exact bid and ask / seconds the feed
                   had data (per book, summed); held seconds count when their prices are
                   the recording's
    invented     = priced records for seconds the recording has no data for

Run: .venv/bin/python bench/capture.py [--minutes 30] [--speed 10] [--books 2 20]
"""

import argparse
import asyncio
import logging
import multiprocessing
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

import psycopg
from psycopg import sql

from bitso_platform.devtools.replay import (
    Observation,
    ReplayExchange,
    ReplayThread,
    read_observations,
)
from bitso_platform.devtools.replay_modes import MODES, Mode
from bitso_platform.settings import load_settings
from bitso_platform.ticker.config import ExchangeSettings
from bitso_platform.ticker.sampler import Sampler, SamplerOptions, SamplerReport

log = logging.getLogger("bench.capture")

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "fixtures/real/ticker/spread_observations_2024-07-16_17.csv"
)
SHIFT_SECONDS = 97


@dataclass(frozen=True)
class Result:
    mode: Mode
    books: int
    seconds: int
    wall_seconds: float
    sampler_cpu_seconds: float
    process_cpu_seconds: float
    feed_seconds: int
    covered: int
    held: int
    wrong: int
    invented: int
    orders_sent: int

    @property
    def cpu_per_book(self) -> float:
        """Share of one core per book while sampling."""
        return self.sampler_cpu_seconds / self.wall_seconds / self.books

    @property
    def coverage(self) -> float:
        return self.covered / self.feed_seconds if self.feed_seconds else 0.0


def synthesise(
    recorded: list[Observation], books: int, start: int, seconds: int
) -> list[Observation]:
    """`books` books over [start, start + seconds): the two real ones, then shifted copies."""
    originals = sorted({o.book for o in recorded})
    by_book: dict[str, list[Observation]] = {book: [] for book in originals}
    for observation in recorded:
        by_book[observation.book].append(observation)
    result = []
    for index in range(books):
        source = originals[index % len(originals)]
        base, quote = source.split("_")
        real = index < len(originals)
        name = source if real else f"{base}{index:02d}_{quote}"
        shift = 0 if real else index * SHIFT_SECONDS
        scale = 1 if real else 1 + index / 100
        result.extend(
            Observation(o.second - shift, name, o.bid * scale, o.ask * scale)
            for o in by_book[source]
            if start <= o.second - shift < start + seconds
        )
    return result


def admin_url(configured: str | None) -> str:
    """A Postgres server to create the throwaway database on."""
    if configured:
        return configured
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
        return "postgresql://postgres@127.0.0.1:5432/postgres"
    except OSError:
        from bitso_platform.resources.warehouse import Warehouse

        return Warehouse().resolved_url()


def sample_in_child(
    exchange: ExchangeSettings, url: str, speed: float, seconds: int, reply: Connection
) -> None:
    """Sampler process: runs the sampler and sends back its report and total CPU time."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s sampler %(message)s")
    options = SamplerOptions(speed=speed, log_every=10**9)
    report = asyncio.run(Sampler.for_warehouse(exchange, url, options).run(for_seconds=seconds))
    reply.send((report, time.process_time()))


@dataclass(frozen=True)
class Run:
    """One benchmark run: a replay mode, a book count, a slice and a speed."""

    mode: Mode
    books: int
    start: int
    seconds: int
    speed: float


def run_once(recorded: list[Observation], run: Run, admin: str) -> Result:
    observations = synthesise(recorded, run.books, run.start, run.seconds)
    names = tuple(sorted({o.book for o in observations}))
    database = f"bitso_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    url = psycopg.conninfo.make_conninfo(admin, dbname=database)
    try:
        replay = ReplayExchange(
            observations, speed=run.speed, mode=run.mode, start_on_subscribe=True
        )
        with ReplayThread(replay) as exchange:
            settings = ExchangeSettings(
                api_url=exchange.api_url, ws_url=exchange.ws_url, books=names
            )
            report, process_cpu = _sample(settings, url, run.speed, run.seconds)
            orders_sent = sum(exchange.stats().orders_sent.values())
        return _score(run, report, process_cpu, observations, url, orders_sent)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database))
            )


def _sample(
    settings: ExchangeSettings, url: str, speed: float, seconds: int
) -> tuple[SamplerReport, float]:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=sample_in_child, args=(settings, url, speed, seconds, send))
    child.start()
    try:
        return receive.recv()
    except EOFError as exc:
        raise SystemExit(f"the sampler process failed (exit code {child.exitcode})") from exc
    finally:
        child.join()


def _score(
    run: Run,
    report: SamplerReport,
    process_cpu: float,
    observations: list[Observation],
    url: str,
    orders_sent: int,
) -> Result:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select book, extract(epoch from orderbook_timestamp)::bigint, bid, ask"
            " from ticker.spread_observations where not is_gap"
        ).fetchall()
    first = int(report.first_second.timestamp()) if report.first_second else 0
    last = int(report.last_second.timestamp()) if report.last_second else -1
    feed = {(o.book, o.second): (o.bid, o.ask) for o in observations if first <= o.second <= last}
    covered = sum(1 for book, second, *prices in rows if feed.get((book, second)) == tuple(prices))
    invented = sum(1 for book, second, *_ in rows if (book, second) not in feed)
    return Result(
        mode=run.mode,
        books=run.books,
        seconds=report.seconds,
        wall_seconds=report.wall_seconds,
        sampler_cpu_seconds=report.cpu_seconds,
        process_cpu_seconds=process_cpu,
        feed_seconds=len(feed),
        covered=covered,
        held=sum(report.held.values()),
        wrong=len(rows) - covered - invented,
        invented=invented,
        orders_sent=orders_sent,
    )


def markdown(results: list[Result], speed: float, start: datetime, minutes: float) -> str:
    lines = [
        f"Slice: {minutes:g} min from {start.isoformat()}, replayed at {speed:g}x real time.",
        "",
        "| mode | books | orders sent | seconds | wall s | sampler CPU s | CPU per book "
        "| coverage | covered / feed | held | wrong | invented | process CPU s (with start-up) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.mode} | {r.books} | {r.orders_sent} | {r.seconds} | {r.wall_seconds:.1f} "
            f"| {r.sampler_cpu_seconds:.2f} "
            f"| {100 * r.cpu_per_book:.3f} % | {100 * r.coverage:.3f} % "
            f"| {r.covered} / {r.feed_seconds} | {r.held} | {r.wrong} | {r.invented} "
            f"| {r.process_cpu_seconds:.2f} |"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Measure the sampler's CPU per book and coverage on a replayed slice "
        "of the real fixture (targets: coverage >= 99.9 %%, < 1 %% of a core per book).",
    )
    parser.add_argument("--fixture", type=Path, default=FIXTURE, help="SPEC 6 observation file")
    parser.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=datetime.fromisoformat("2024-07-16T22:24:09+00:00"),
        help="first instant of the slice, ISO-8601 with offset (default: the fixture's start)",
    )
    parser.add_argument("--minutes", type=float, default=30, help="slice length (default 30)")
    parser.add_argument("--speed", type=float, default=10, help="replay speed (default 10)")
    parser.add_argument(
        "--books", type=int, nargs="+", default=[2, 20], help="book counts to run (default 2 20)"
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=MODES,
        default=list(MODES),
        help="replay modes to run (default: both)",
    )
    parser.add_argument(
        "--postgres-url",
        default=load_settings().warehouse_url or None,
        help="server for the throwaway database (default: BITSO_WAREHOUSE_URL, else "
        "127.0.0.1:5432, else the embedded server)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("bitso_platform").setLevel(logging.WARNING)
    recorded = read_observations(args.fixture)
    start, seconds = int(args.start.timestamp()), round(args.minutes * 60)
    admin = admin_url(args.postgres_url)
    results = []
    for mode in args.modes:
        for books in args.books:
            log.info(
                "%s, %d books: %d s at %gx (about %.0f s)",
                mode,
                books,
                seconds,
                args.speed,
                seconds / args.speed,
            )
            results.append(run_once(recorded, Run(mode, books, start, seconds, args.speed), admin))
    print(markdown(results, args.speed, args.start, args.minutes))


if __name__ == "__main__":
    main()
