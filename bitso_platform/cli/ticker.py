"""`bitso ticker`: the sampler, the replay exchange, spread alerts and the demo."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
import psycopg

from bitso_platform.cli import render
from bitso_platform.cli.config import current_settings
from bitso_platform.cli.params import format_option
from bitso_platform.cli.progress import Progress, progress_on_stderr
from bitso_platform.cli.warehouse import unreachable, warehouse_url
from bitso_platform.devtools.replay_modes import MODES, Mode
from bitso_platform.sql import load_sql
from bitso_platform.ticker.alert_evaluator import AlertEvaluator, list_episodes
from bitso_platform.ticker.alerts import iso
from bitso_platform.ticker.config import DEFAULT_REST_BUDGET_PER_MINUTE, ExchangeSettings
from bitso_platform.ticker.health import book_freshness
from bitso_platform.ticker.sampler import Sampler, SamplerOptions

if TYPE_CHECKING:  # loaded only when a command serves a replay or runs the demo
    from bitso_platform.cli.ticker_demo import Demo, WindowOutcome
    from bitso_platform.devtools.replay import Observation, ReplayExchange

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
    """Order-book spread capture and alerts: the sampler, a replay exchange, alert passes.

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
    to ticker.spread_observations in BITSO_WAREHOUSE_URL (default: the embedded server):
    observed, held (no message, the last snapshot while the connection vouches for it) or
    a gap. Logs coverage every --log-every seconds; SIGTERM or Ctrl-C stops after
    writing what was sampled and printing the summary (exit 0).
    """
    _configure_logging(verbose)
    exchange = ExchangeSettings.of(current_settings(), rest_budget_per_minute=rest_budget)
    url = warehouse_url()
    options = SamplerOptions(speed=speed, log_every=log_every)
    click.echo(
        f"sampling {', '.join(exchange.books)} from {exchange.ws_url} "
        f"(REST fallback {exchange.api_url}, {rest_budget}/min) at speed {speed:g}",
        err=True,
    )
    sampler = Sampler.for_warehouse(exchange, url, options)
    report = asyncio.run(sampler.run_until_signalled(for_seconds=for_seconds))
    click.echo(
        f"recorded {report.seconds} s ({report.first_second} .. {report.last_second}); "
        f"coverage {100 * report.coverage:.2f}%; covered {report.covered} "
        f"(held {report.held}), gaps {report.gaps}; "
        f"sources {report.sources}; crossed {report.crossed}; late quotes "
        f"{report.late_quotes}, ahead {report.ahead_quotes}, clock re-syncs "
        f"{report.clock_resyncs}; written {report.written}, "
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
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="change-only",
    show_default=True,
    help="change-only: a book's snapshot only when its bid or ask changes, keep-alives in "
    "between (as Bitso does); every-second: a message for every recorded second.",
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
    mode: Mode,
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
    A gap in FILE drops the connections subscribed to that book (nothing vouched for it).
    """
    from bitso_platform.devtools.replay import ReplayExchange, read_observations

    _configure_logging(verbose=False)
    try:
        observations = read_observations(file, start=_utc(start), end=_utc(end))
        exchange = ReplayExchange(
            observations,
            speed=speed,
            mode=mode,
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
        f"at speed {exchange.speed:g} ({exchange.mode})\n"
        f"  export BITSO_API_URL={exchange.api_url} BITSO_WS_URL={exchange.ws_url}",
        err=True,
    )
    with progress_on_stderr() as progress:
        try:
            reporting = asyncio.create_task(_report_progress(exchange, progress))
            await exchange.finished.wait()
            reporting.cancel()
            _show_feed(exchange, progress)
            await asyncio.sleep(linger)
        finally:
            await exchange.stop()
    stats = exchange.stats()
    click.echo(
        f"replayed {stats.seconds_published} s; orders sent {stats.orders_sent}; "
        f"REST requests {stats.rest_requests} (max {stats.max_rest_requests_per_minute} "
        f"per minute, {stats.rest_rejected_over_limit} over the limit)"
    )


async def _report_progress(exchange: ReplayExchange, progress: Progress) -> None:
    # An updating line can change every second; plain lines (logs) come less often.
    every = 1.0 if progress.live else 10.0
    while True:
        await asyncio.sleep(every)
        _show_feed(exchange, progress)


def _show_feed(exchange: ReplayExchange, progress: Progress) -> None:
    stats, recording = exchange.stats(), exchange.recording
    total = recording.last - recording.first + 1
    progress.update(
        "replay",
        f"replay: {stats.seconds_published:,} of {total:,} s replayed, "
        f"{sum(stats.orders_sent.values()):,} order messages sent, "
        f"{stats.ws_open:,} WebSocket clients, {stats.rest_requests:,} REST requests",
    )


def _alert_evaluator() -> AlertEvaluator:
    """The evaluator the sensor runs, configured as the code location binds it."""
    from bitso_platform.defs.resources import build_resources  # lazily: imports Dagster

    # Bound as plain values: initialising resources through Dagster would start an
    # ephemeral instance, seconds of start-up a one-pass command does not need.
    resources = build_resources(current_settings(), env_vars=False)
    return resources["alerts"].evaluator(resources["warehouse"].resolved_url())


@ticker.command()
def evaluate() -> None:
    """Run one pass of the spread alert sensor's evaluation (same code, same cursor).

    Evaluates the observations stored since the last pass (the cursor in
    ticker.spread_alert_cursor, shared with the Dagster sensor `spread_alerts`) against
    BITSO_SPREAD_THRESHOLDS, records episodes in ticker.spread_alerts, and delivers due
    notifications (log, and BITSO_ALERT_WEBHOOK_URL when set).
    """
    _configure_logging(verbose=False)
    evaluator = _alert_evaluator()
    try:
        report = evaluator.run_pass()
    except psycopg.OperationalError as exc:
        raise unreachable(exc) from exc
    click.echo(report.summary())


@ticker.command()
@format_option("table", "json")
def alerts(output_format: str) -> None:
    """List the spread alert episodes raised so far, in the order they opened.

    JSON is a list of objects with book, threshold, opened_at, opening_spread, peak_spread
    and resolved_at (null while open); timestamps are the observations' own.
    """
    try:
        with psycopg.connect(warehouse_url(), options="-c TimeZone=UTC") as conn:
            episodes = list_episodes(conn)
    except psycopg.OperationalError as exc:
        raise unreachable(exc) from exc
    if output_format == "json":
        click.echo(render.json_text(episodes, indent=2))
        return
    click.echo(_episodes_table(episodes))


def _episodes_table(episodes: list[dict[str, object]]) -> str:
    if not episodes:
        return "no alert episodes yet"
    header = ("book", "threshold %", "opened at", "opening %", "peak %", "resolved at")
    rows = [
        (
            str(e["book"]),
            float(e["threshold"]),  # type: ignore[arg-type]
            str(e["opened_at"]),
            float(e["opening_spread"]),  # type: ignore[arg-type]
            float(e["peak_spread"]),  # type: ignore[arg-type]
            str(e["resolved_at"] or "open"),
        )
        for e in episodes
    ]
    return render.table(rows, header=header)


@ticker.command()
@click.option(
    "--max-age",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Wall seconds within which every book must have a priced record written.",
)
def health(max_age: float) -> None:
    """Exit 0 when the sampler is recording every book, 1 (naming what is stale) otherwise.

    Healthy means each book of BITSO_BOOKS has a non-gap row (observed or held) in
    ticker.spread_observations (BITSO_WAREHOUSE_URL) written within the last --max-age
    seconds: the sampler runs, the exchange feed vouches for the book and Postgres accepts
    the writes. Gap rows do not count.
    Used as the compose `ticker` service's health check.
    """
    books = current_settings().books
    try:
        with psycopg.connect(warehouse_url(), options="-c TimeZone=UTC") as conn:
            freshness = book_freshness(conn, books)
    except psycopg.OperationalError as exc:
        raise unreachable(exc) from exc
    stale = [book for book in freshness if not book.is_fresh(max_age)]
    if stale:
        raise click.ClickException(
            f"stale (nothing received in the last {max_age:g} s): "
            + "; ".join(book.describe() for book in stale)
            + ". Check that `bitso ticker run` is running (compose: `docker compose logs "
            "ticker`) and that it reaches BITSO_WS_URL / BITSO_API_URL; the sampler logs "
            "its coverage and any write errors."
        )
    click.echo("healthy: " + "; ".join(book.describe() for book in freshness))


@ticker.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--from",
    "start",
    default="2024-07-16T23:30:00+00:00",
    show_default=True,
    help="First second of the slice (ISO-8601 with offset, on a 10-minute boundary).",
)
@click.option(
    "--minutes",
    type=click.IntRange(min=10),
    default=60,
    show_default=True,
    help="Length of the slice; whole 10-minute windows are written to the lake.",
)
@click.option(
    "--speed",
    type=SPEED,
    default=60.0,
    show_default=True,
    help="Recorded seconds per wall second (60: an hour of market in a minute).",
)
def demo(file: Path, start: str, minutes: int, speed: float) -> None:
    """Replay a slice of FILE at high speed end to end: sample, alert, write the windows.

    Serves the slice from a local replay exchange and samples it into
    ticker.spread_observations while ticking the `spread_alerts` sensor every 2 s (the
    sensor's own code and cursor). Then ticks `ticker_windows_schedule` at each window's
    scheduled time and runs what it requests (one Dagster run per window, visible in
    `make dev`), and prints the windows written, each window's checks and the alerts raised.
    """
    from bitso_platform.cli.ticker_demo import Demo  # lazily: imports Dagster
    from bitso_platform.devtools.replay import read_observations

    _configure_logging(verbose=False)
    begin = _utc(start)
    if begin is None or begin.minute % 10 or begin.second:
        raise click.BadParameter("start on a 10-minute boundary, e.g. 2024-07-16T23:30:00+00:00")
    end = begin + timedelta(minutes=minutes)
    observations = read_observations(file, start=begin, end=end)
    session = Demo.for_settings(current_settings())
    click.echo(f"replaying {file.name} {begin:%H:%M}..{end:%H:%M} at {speed:g}x", err=True)
    asyncio.run(_sample_and_evaluate(observations, session, speed, minutes * 60))
    session.tick_sensor()
    windows = [begin + timedelta(minutes=10 * i) for i in range(minutes // 10)]
    outcomes = [session.write_window(window) for window in windows]
    _print_demo_results(session.url, begin, end, outcomes)


async def _sample_and_evaluate(
    observations: list[Observation], session: Demo, speed: float, seconds: int
) -> None:
    """Sample the replay for `seconds` feed seconds while the alert sensor ticks every 2 s."""
    from bitso_platform.devtools.replay import ReplayExchange

    exchange = ReplayExchange(observations, speed=speed, port=0, start_on_subscribe=True)
    await exchange.start()
    try:
        books = tuple(sorted({o.book for o in observations}))
        settings = ExchangeSettings(api_url=exchange.api_url, ws_url=exchange.ws_url, books=books)
        # At high speed the watchdog's 15 feed seconds are a fraction of a wall second, and
        # a pause of the shared event loop would look like a dead socket.
        options = SamplerOptions(speed=speed, log_every=600, stale_after=max(15.0, 2 * speed))
        sampling = asyncio.create_task(
            Sampler.for_warehouse(settings, session.url, options).run(for_seconds=seconds)
        )
        while not sampling.done():
            await asyncio.wait({sampling}, timeout=2.0)
            await asyncio.to_thread(session.tick_sensor)
        sampled = sampling.result()
        click.echo(
            f"sampled {render.number_text(sampled.seconds)} s, coverage "
            f"{render.number_text(100 * sampled.coverage)} %",
            err=True,
        )
    finally:
        await exchange.stop()


def _print_demo_results(
    url: str, begin: datetime, end: datetime, outcomes: list[WindowOutcome]
) -> None:
    if any(outcome.skipped is None for outcome in outcomes):
        click.echo(_windows_table(url, begin, end))
    click.echo("\nchecks of each window's lake files")
    click.echo(render.table(_check_rows(outcomes), header=("window", "check", "result", "numbers")))
    click.echo(_checks_line(outcomes))
    with psycopg.connect(url, options="-c TimeZone=UTC") as conn:
        episodes = [e for e in list_episodes(conn) if iso(begin) <= str(e["opened_at"]) < iso(end)]
    click.echo(f"\nalerts raised ({len(episodes)} episodes)")
    click.echo(_episodes_table(episodes))


def _windows_table(url: str, begin: datetime, end: datetime) -> str:
    with psycopg.connect(url, options="-c TimeZone=UTC") as conn:
        stats = conn.execute(
            load_sql("ticker/window_stats_between"), {"begin": begin, "end": end}
        ).fetchall()
    rows = [
        (f"{window:%Y-%m-%d %H:%M}", book, records, _percent(coverage), max_spread)
        for window, book, records, coverage, max_spread in stats
    ]
    header = ("window", "book", "records", "coverage %", "max spread %")
    return (
        "windows written (lake: ticker_spread/book=…/date=…/hour=…/minute=…/part.parquet)\n"
        + render.table(rows, header=header)
    )


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else 100 * float(fraction)


def _check_rows(outcomes: list[WindowOutcome]) -> list[tuple[str, ...]]:
    rows = []
    for outcome in outcomes:
        window = f"{outcome.window_start:%Y-%m-%d %H:%M}"
        if outcome.skipped is not None:
            rows.append((window, "-", "not written", outcome.skipped))
        for check in outcome.checks:
            numbers = ", ".join(f"{k} {render.number_text(v)}" for k, v in check.numbers.items())
            rows.append((window, check.name, check.result, numbers))
    return rows


def _checks_line(outcomes: list[WindowOutcome]) -> str:
    results = [check.result for outcome in outcomes for check in outcome.checks]
    counts = ", ".join(
        f"{results.count(result):,} {result}"
        for result in ("passed", "warned", "FAILED")
        if results.count(result) or result == "passed"
    )
    return f"checks: {counts}"
