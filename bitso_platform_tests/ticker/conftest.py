"""The replay exchange on the real fixture, and a sampler run against it into real Postgres."""

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest

from bitso_platform.devtools.replay import (
    Observation,
    ReplayExchange,
    ReplayThread,
    read_observations,
)
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.ticker.config import ExchangeSettings
from bitso_platform.ticker.sampler import Sampler, SamplerOptions, SamplerReport
from bitso_platform_tests.conftest import REAL_TICKER

BOOKS = ("btc_mxn", "usd_mxn")


def at(text: str, day: int = 16) -> int:
    """Epoch second of a UTC time of day on a fixture day (16 or 17 July), e.g. "22:31:00"."""
    return int(datetime.fromisoformat(f"2024-07-{day}T{text}+00:00").timestamp())


@pytest.fixture(scope="session")
def recorded() -> list[Observation]:
    """Every observation of the real fixture."""
    return read_observations(REAL_TICKER)


@pytest.fixture
def fixture_slice(recorded: list[Observation]) -> Callable[[int, int], list[Observation]]:
    """Observations of the fixture in [start, start + seconds)."""

    def cut(start: int, seconds: int) -> list[Observation]:
        return [o for o in recorded if start <= o.second < start + seconds]

    return cut


@pytest.fixture
def replay() -> Iterator[Callable[..., ReplayThread]]:
    """Starts replay exchanges in background threads; all are stopped after the test."""
    running: list[ReplayThread] = []

    def start(observations: list[Observation], **options: object) -> ReplayThread:
        options = {"start_on_subscribe": True, "keepalive_every": 1.0, **options}
        thread = ReplayThread(ReplayExchange(observations, **options)).__enter__()  # type: ignore[arg-type]
        running.append(thread)
        return thread

    yield start
    for thread in running:
        thread.__exit__(None, None, None)


def exchange_for(replay: ReplayThread, **overrides: object) -> ExchangeSettings:
    return ExchangeSettings(api_url=replay.api_url, ws_url=replay.ws_url, books=BOOKS, **overrides)  # type: ignore[arg-type]


def closed_port_url() -> str:
    """A loopback WebSocket URL nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"ws://127.0.0.1:{port}/"


@dataclass
class Run:
    report: SamplerReport
    sampler: Sampler


def sample(
    exchange: ExchangeSettings,
    warehouse: Warehouse,
    *,
    for_seconds: int,
    speed: float,
    during: Callable[[Sampler], Awaitable[None]] | None = None,
    **options: object,
) -> Run:
    """Run a sampler to completion, with `during` running alongside it."""

    async def main() -> Run:
        timing = {"stale_after": 3.0, "log_every": 30, **options}
        settings = SamplerOptions(speed=speed, **timing)  # type: ignore[arg-type]
        sampler = Sampler.for_warehouse(exchange, warehouse.resolved_url(), settings)
        task = asyncio.create_task(sampler.run(for_seconds=for_seconds))
        if during is not None:
            await during(sampler)
        return Run(await task, sampler)

    return asyncio.run(main())


async def until(condition: Callable[[], bool], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@dataclass(frozen=True)
class Row:
    second: int
    book: str
    bid: float | None
    ask: float | None
    spread: float | None
    source: str | None
    exchange_at: datetime | None
    received_at: datetime | None
    is_gap: bool
    is_crossed: bool
    is_held: bool


def stored(warehouse: Warehouse) -> list[Row]:
    """The observations table, in (book, second) order."""
    with warehouse.connection() as conn:
        rows = conn.execute(
            "select orderbook_timestamp, book, bid, ask, spread, source, exchange_at,"
            " received_at, is_gap, is_crossed, is_held"
            " from ticker.spread_observations order by book, orderbook_timestamp"
        ).fetchall()
    return [Row(int(row[0].timestamp()), *row[1:]) for row in rows]


def grid(start: int, seconds: int) -> set[tuple[str, int]]:
    return {(book, second) for book in BOOKS for second in range(start, start + seconds)}


def utc(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)


def kill_sampler_connections(warehouse: Warehouse) -> int:
    """Terminate the sampler's database sessions, as a Postgres restart would."""
    with psycopg.connect(warehouse.resolved_url(), autocommit=True) as conn:
        return len(
            conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity"
                " where application_name = 'bitso-ticker-sampler'"
                " and datname = current_database()"
            ).fetchall()
        )
