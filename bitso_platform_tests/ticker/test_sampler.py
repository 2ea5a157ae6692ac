"""The sampler against the replay exchange playing the real fixture, into real Postgres."""

import asyncio
import contextlib
from collections.abc import Callable

from bitso_platform.devtools.replay import Observation, ReplayThread
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.ticker.records import spread_percent
from bitso_platform.ticker.sampler import Sampler, SamplerOptions
from bitso_platform_tests.ticker.conftest import (
    BOOKS,
    at,
    exchange_for,
    grid,
    kill_sampler_connections,
    sample,
    stored,
    until,
)

Slice = Callable[[int, int], list[Observation]]
Replay = Callable[..., ReplayThread]


def feed_values(observations: list[Observation]) -> dict[tuple[str, int], tuple[float, float]]:
    return {(o.book, o.second): (o.bid, o.ask) for o in observations}


def test_on_the_change_only_channel_every_recorded_second_gets_the_feeds_exact_bid_and_ask(
    warehouse: Warehouse, replay: Replay, fixture_slice: Slice
) -> None:
    start, seconds = at("22:24:09"), 90
    observations = fixture_slice(start, seconds)
    exchange = replay(observations, speed=30)

    run = sample(exchange_for(exchange), warehouse, for_seconds=seconds, speed=30)

    rows = stored(warehouse)
    feed = feed_values(observations)
    assert sum(exchange.stats().orders_sent.values()) < len(feed) // 4  # only changes are sent
    assert {(row.book, row.second) for row in rows} == grid(start, seconds)
    assert {(row.book, row.second) for row in rows if not row.is_gap} == set(feed)
    for row in rows:
        assert (row.bid, row.ask) == feed[(row.book, row.second)]
        assert row.spread == spread_percent(row.bid, row.ask)
        assert row.source == "ws" and row.received_at is not None
        assert row.exchange_at is not None
        sent = int(row.exchange_at.timestamp())
        assert sent < row.second if row.is_held else sent == row.second
    held = sum(row.is_held for row in rows)
    assert held > len(rows) // 2 and run.report.held == {
        book: sum(row.is_held for row in rows if row.book == book) for book in BOOKS
    }
    assert run.report.coverage == 1.0


def test_replaying_a_stretch_full_of_recorded_gaps_change_only_at_10x_covers_every_recorded_second(
    warehouse: Warehouse, replay: Replay, fixture_slice: Slice
) -> None:
    start, seconds = at("03:56:09", day=17), 600  # 37 recorded gaps begin in these ten minutes
    observations = fixture_slice(start, seconds)
    exchange = replay(observations, speed=10, keepalive_every=5.0)

    sample(exchange_for(exchange), warehouse, for_seconds=seconds, speed=10, stale_after=15.0)

    feed = feed_values(observations)
    recorded = {(row.book, row.second): (row.bid, row.ask) for row in stored(warehouse)}
    exact = [key for key, quote in feed.items() if recorded[key] == quote]
    priced = {key for key, quote in recorded.items() if quote != (None, None)}
    assert len(exact) >= 0.999 * len(feed)
    assert priced - set(feed) == set()  # nothing for a second the recording does not vouch for
    assert exchange.stats().gap_drops >= 37


def test_a_second_the_recording_does_not_vouch_for_is_a_gap_never_a_held_or_invented_value(
    warehouse: Warehouse, replay: Replay, fixture_slice: Slice
) -> None:
    start, seconds = at("22:47:00"), 60  # 1-second gaps, then btc_mxn stops for 698 s
    observations = fixture_slice(start, seconds)
    exchange = replay(observations, speed=20)

    run = sample(exchange_for(exchange), warehouse, for_seconds=seconds, speed=20)

    rows = stored(warehouse)
    feed = feed_values(observations)
    gaps = {(row.book, row.second) for row in rows if row.is_gap}
    assert gaps == grid(start, seconds) - set(feed)
    assert ("btc_mxn", at("22:47:12")) in gaps and ("btc_mxn", at("22:47:40")) in gaps
    assert run.report.held and exchange.stats().gap_drops >= 1
    for row in rows:
        if row.is_gap:
            assert (row.bid, row.ask, row.spread, row.source) == (None, None, None, None)
            assert not row.is_held
        else:
            assert (row.bid, row.ask) == feed[(row.book, row.second)]


def test_the_reconnects_after_recorded_gaps_are_planned_and_log_no_warning(
    warehouse: Warehouse, replay: Replay, fixture_slice: Slice, caplog
) -> None:
    start, seconds = at("22:47:00"), 60  # 1-second gaps, then btc_mxn stops for 698 s
    exchange = replay(fixture_slice(start, seconds), speed=20)

    with caplog.at_level("INFO", logger="bitso_platform"):
        run = sample(exchange_for(exchange), warehouse, for_seconds=seconds, speed=20)

    assert exchange.stats().gap_drops >= 1 and run.report.ws_connections > len(BOOKS)
    assert [r.getMessage() for r in caplog.records if r.levelname in ("WARNING", "ERROR")] == []


def test_the_every_second_replay_mode_makes_every_recorded_second_an_observed_one(
    warehouse: Warehouse, replay: Replay, fixture_slice: Slice
) -> None:
    start, seconds = at("22:24:09"), 30
    observations = fixture_slice(start, seconds)
    exchange = replay(observations, speed=20, mode="every-second")

    sample(exchange_for(exchange), warehouse, for_seconds=seconds, speed=20)

    rows = stored(warehouse)
    assert sum(exchange.stats().orders_sent.values()) >= len(observations)
    assert {(row.book, row.second) for row in rows if not row.is_gap} == set(
        feed_values(observations)
    )
    assert not any(row.is_held for row in rows)


def test_a_websocket_drop_mid_window_reconnects_with_no_duplicate_or_missing_seconds(
    warehouse: Warehouse, replay: Replay, fixture_slice: Slice, caplog
) -> None:
    start, seconds = at("22:25:00"), 120
    observations = fixture_slice(start, seconds)
    exchange = replay(observations, speed=20)

    async def drop_at_40_seconds(sampler: Sampler) -> None:
        await until(lambda: sampler.tally.seconds >= 40)
        await asyncio.to_thread(exchange.drop_connections)

    with caplog.at_level("WARNING", logger="bitso_platform.ticker.client"):
        run = sample(
            exchange_for(exchange),
            warehouse,
            for_seconds=seconds,
            speed=20,
            during=drop_at_40_seconds,
        )

    rows = stored(warehouse)
    feed = feed_values(observations)
    stats = exchange.stats()
    assert run.report.ws_connections == stats.ws_connections >= 2 * len(BOOKS)
    assert run.report.ws_connections == len(BOOKS) * 2 + stats.gap_drops
    assert run.report.written == len(rows) == len(grid(start, seconds))
    assert {(row.book, row.second) for row in rows} == grid(start, seconds)
    covered = [row for row in rows if not row.is_gap]
    assert all((row.bid, row.ask) == feed[(row.book, row.second)] for row in covered)
    assert len(covered) >= len(rows) - 2 * len(BOOKS) * 5  # at most a few seconds lost
    assert "closed: no close frame received or sent (reconnecting)" in caplog.text  # a failure
    after_reconnect = {(r.book, r.second) for r in covered if r.second >= start + 60}
    assert after_reconnect == {key for key in feed if key[1] >= start + 60}


def test_a_silent_socket_trips_the_watchdog_and_the_sampler_reconnects(
    warehouse: Warehouse, replay: Replay, fixture_slice: Slice
) -> None:
    start, seconds = at("22:27:00"), 120
    observations = fixture_slice(start, seconds)
    exchange = replay(observations, speed=20)

    async def silence_for_20_feed_seconds(sampler: Sampler) -> None:
        await until(lambda: sampler.tally.seconds >= 30)
        await asyncio.to_thread(exchange.go_silent, 1.0)

    run = sample(
        exchange_for(exchange),
        warehouse,
        for_seconds=seconds,
        speed=20,
        reconnect_base=0.05,
        during=silence_for_20_feed_seconds,
    )

    rows = stored(warehouse)
    feed = feed_values(observations)
    assert run.report.watchdog_trips >= 1
    assert exchange.stats().ws_connections >= 2
    assert {(row.book, row.second) for row in rows} == grid(start, seconds)
    assert sum(row.is_gap for row in rows) >= 2 * 10  # the silence is visible as gaps
    assert all(
        (r.bid, r.ask) == feed[(r.book, r.second)] for r in rows if not (r.is_gap or r.is_held)
    )
    tail = [row for row in rows if row.second >= start + 100]
    assert all(not row.is_gap and row.source == "ws" for row in tail)
    assert all((r.bid, r.ask) == feed[(r.book, r.second)] for r in tail)


def test_a_database_connection_killed_mid_run_loses_no_records(
    warehouse: Warehouse, replay: Replay, fixture_slice: Slice
) -> None:
    start, seconds = at("22:29:00"), 60
    exchange = replay(fixture_slice(start, seconds), speed=20)

    async def kill_the_database_session(sampler: Sampler) -> None:
        await until(lambda: sampler.writer.written > 0)
        assert await asyncio.to_thread(kill_sampler_connections, warehouse) == 1

    run = sample(
        exchange_for(exchange),
        warehouse,
        for_seconds=seconds,
        speed=20,
        flush_every=0.2,
        during=kill_the_database_session,
    )

    assert run.sampler.writer.failures >= 1
    assert run.report.unwritten == 0
    assert {(row.book, row.second) for row in stored(warehouse)} == grid(start, seconds)


def test_crossed_and_locked_books_are_flagged_and_kept(
    warehouse: Warehouse, replay: Replay, fixture_slice: Slice
) -> None:
    start, seconds = at("22:30:00"), 20
    crossed, locked = at("22:30:05"), at("22:30:06")
    observations = [
        Observation(o.second, o.book, o.bid, o.bid - 0.01)
        if o.second == crossed
        else Observation(o.second, o.book, o.bid, o.bid)
        if o.second == locked
        else o
        for o in fixture_slice(start, seconds)
    ]
    exchange = replay(observations, speed=20)

    run = sample(exchange_for(exchange), warehouse, for_seconds=seconds, speed=20)

    flagged = {(row.book, row.second) for row in stored(warehouse) if row.is_crossed}
    assert flagged == {(book, second) for book in BOOKS for second in (crossed, locked)}
    assert run.report.crossed == 4


def test_a_sampler_stopped_early_keeps_every_second_that_had_ended(
    warehouse: Warehouse, replay: Replay, fixture_slice: Slice
) -> None:
    start = at("22:28:00")
    exchange = replay(fixture_slice(start, 120), speed=20)

    async def stop_after_20_seconds() -> None:
        sampler = Sampler.for_warehouse(
            exchange_for(exchange), warehouse.resolved_url(), SamplerOptions(speed=20)
        )
        task = asyncio.create_task(sampler.run())
        await until(lambda: sampler.tally.seconds >= 20)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert sampler.writer.pending == []

    asyncio.run(stop_after_20_seconds())

    seconds = sorted({row.second for row in stored(warehouse)})
    assert len(seconds) >= 25  # the settling seconds were kept, not dropped
    assert seconds == list(range(start, start + len(seconds)))


def test_while_every_socket_is_healthy_the_sampler_logs_no_error(
    warehouse: Warehouse, replay: Replay, fixture_slice: Slice, caplog
) -> None:
    start = at("22:24:09")
    exchange = replay(fixture_slice(start, 120), speed=30)  # the feed outlasts the run

    with caplog.at_level("INFO", logger="bitso_platform"):
        run = sample(exchange_for(exchange), warehouse, for_seconds=60, speed=30)

    assert run.report.coverage == 1.0
    assert [r.getMessage() for r in caplog.records if r.levelname in ("WARNING", "ERROR")] == []
    assert not any("error" in r.getMessage().lower() for r in caplog.records)
