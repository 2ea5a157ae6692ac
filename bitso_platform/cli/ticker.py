"""`bitso ticker`: the order-book sampler and the local replay exchange."""

import asyncio
import dataclasses
import logging
from datetime import datetime
from pathlib import Path

import click

from bitso_platform.settings import env
from bitso_platform.ticker.config import DEFAULT_REST_BUDGET_PER_MINUTE, ExchangeSettings
from bitso_platform.ticker.replay import ReplayExchange, read_observations
from bitso_platform.ticker.sampler import Sampler, SamplerOptions

log = logging.getLogger(__name__)

SPEED = click.FloatRange(min=0, min_open=True)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise


def _utc(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not ISO-8601, e.g. 2024-07-16T22:30:00+00:00"
        ) from exc
    if moment.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset; add +00:00")
    return moment


@click.group()
def ticker() -> None:
    """Order-book spread capture: the sampler and a local replay exchange.

    Point the sampler at a replay with BITSO_API_URL=http://HOST:PORT and
    BITSO_WS_URL=ws://HOST:PORT/ and run both at the same --speed.
    """


@ticker.command()
@click.option(
    "--speed",
    type=SPEED,
    default=1.0,
    show_default=True,
    help="Feed seconds per wall second; use the replay's --speed (1 for the real exchange).",
)
@click.option(
    "--for",
    "for_seconds",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after recording this many seconds (one record per book each). "
    "Default: run until interrupted.",
)
@click.option(
    "--rest-budget",
    type=click.IntRange(1, 60),
    default=DEFAULT_REST_BUDGET_PER_MINUTE,
    show_default=True,
    help="REST fallback requests allowed in any rolling minute (Bitso locks out above 60).",
)
@click.option(
    "--log-every",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Feed seconds between progress lines.",
)
@click.option("--verbose", is_flag=True, help="Log every REST fallback error and reconnect detail.")
def run(
    speed: float, for_seconds: int | None, rest_budget: int, log_every: int, verbose: bool
) -> None:
    """Sample the best bid and ask of every book once per second into Postgres.

    Reads the `orders` WebSocket channel of BITSO_WS_URL for BITSO_BOOKS, falls back to
    BITSO_API_URL's REST ticker within the budget, and writes one row per book and second
    (gaps included) to ticker.spread_observations in BITSO_WAREHOUSE_URL (default: the
    embedded server). Logs coverage every --log-every seconds; Ctrl-C stops after
    writing what was sampled.
    """
    from bitso_platform.resources.warehouse import Warehouse  # lazily: it imports Dagster

    _configure_logging(verbose)
    try:
        exchange = dataclasses.replace(
            ExchangeSettings.from_env(), rest_budget_per_minute=rest_budget
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    url = Warehouse(url=env("BITSO_WAREHOUSE_URL", "")).resolved_url()
    options = SamplerOptions(speed=speed, log_every=log_every)
    click.echo(
        f"sampling {', '.join(exchange.books)} from {exchange.ws_url} "
        f"(REST fallback {exchange.api_url}, {rest_budget}/min) at speed {speed:g}",
        err=True,
    )
    try:
        report = asyncio.run(
            Sampler.for_warehouse(exchange, url, options).run(for_seconds=for_seconds)
        )
    except KeyboardInterrupt:
        click.echo("sampler stopped; the log names any records that could not be written", err=True)
        return
    click.echo(
        f"recorded {report.seconds} s ({report.first_second} .. {report.last_second}); "
        f"coverage {100 * report.coverage:.2f}%; covered {report.covered}, gaps {report.gaps}; "
        f"sources {report.sources}; crossed {report.crossed}; written {report.written}, "
        f"unwritten {report.unwritten}; ws connections {report.ws_connections}, "
        f"watchdog trips {report.watchdog_trips}; REST requests {report.rest_requests} "
        f"(429: {report.rest_rate_limited}); cpu {report.cpu_seconds:.1f} s "
        f"over {report.wall_seconds:.1f} s"
    )


@ticker.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--speed",
    type=SPEED,
    default=1.0,
    show_default=True,
    help="Recorded seconds per wall second (10 = ten times faster than real time).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port for both REST and WebSocket; 0 picks a free one.",
)
@click.option("--from", "start", help="Replay from this instant (ISO-8601 with offset).")
@click.option("--until", "end", help="Replay up to, not including, this instant.")
@click.option(
    "--rest-limit",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="REST requests per client per rolling minute before HTTP 429 and a lockout.",
)
@click.option(
    "--wait-for-client",
    is_flag=True,
    help="Start the feed when the first WebSocket client subscribes, not immediately.",
)
@click.option(
    "--linger",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Wall seconds to keep serving (keep-alives, REST) after the last recorded second.",
)
def replay(
    file: Path,
    speed: float,
    host: str,
    port: int,
    start: str | None,
    end: str | None,
    rest_limit: int,
    wait_for_client: bool,
    linger: float,
) -> None:
    """Serve a recorded observation FILE as a local Bitso exchange.

    FILE is a SPEC 6 CSV (orderbook_timestamp,book,bid,ask,spread), such as the
    fixture real/ticker/spread_observations_2024-07-16_17.csv. REST is served under
    http://HOST:PORT/v3/ (ticker, order_book, available_books) and the `orders`
    WebSocket channel at ws://HOST:PORT/. Stats: http://HOST:PORT/_replay/stats.
    """
    _configure_logging(verbose=False)
    try:
        observations = read_observations(file, start=_utc(start), end=_utc(end))
        exchange = ReplayExchange(
            observations,
            speed=speed,
            host=host,
            port=port,
            rest_limit_per_minute=rest_limit,
            start_on_subscribe=wait_for_client,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        asyncio.run(_serve_replay(exchange, linger))
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc}; pick another --port (0 = any free port)"
        ) from exc
    except KeyboardInterrupt:
        click.echo("replay stopped", err=True)


async def _serve_replay(exchange: ReplayExchange, linger: float) -> None:
    recording = exchange.recording
    await exchange.start()
    click.echo(
        f"replaying {len(recording.books)} books, {recording.last - recording.first + 1} s "
        f"at speed {exchange.speed:g}\n"
        f"  export BITSO_API_URL={exchange.api_url} BITSO_WS_URL={exchange.ws_url}",
        err=True,
    )
    try:
        progress = asyncio.create_task(_report_progress(exchange))
        await exchange.finished.wait()
        progress.cancel()
        await asyncio.sleep(linger)
    finally:
        await exchange.stop()
    stats = exchange.stats()
    click.echo(
        f"replayed {stats.seconds_published} s; orders sent {stats.orders_sent}; "
        f"REST requests {stats.rest_requests} (max {stats.max_rest_requests_per_minute} "
        f"per minute, {stats.rest_rejected_over_limit} over the limit)"
    )


async def _report_progress(exchange: ReplayExchange, every: float = 10.0) -> None:
    while True:
        await asyncio.sleep(every)
        stats = exchange.stats()
        log.info(
            "feed at %s: %d s published, %d WebSocket clients, %d REST requests",
            stats.feed_now or "not started",
            stats.seconds_published,
            stats.ws_open,
            stats.rest_requests,
        )
