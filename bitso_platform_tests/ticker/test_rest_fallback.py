"""The REST fallback against the replay exchange, which counts and limits like Bitso."""

from collections.abc import Callable
from dataclasses import replace

from bitso_platform.devtools.replay import Observation, ReplayThread
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform_tests.ticker.conftest import (
    BOOKS,
    at,
    closed_port_url,
    exchange_for,
    sample,
    stored,
)

Slice = Callable[[int, int], list[Observation]]
Replay = Callable[..., ReplayThread]


def test_the_rest_fallback_for_two_books_never_exceeds_the_budget_counted_by_the_server(
    warehouse: Warehouse, replay: Replay, fixture_slice: Slice
) -> None:
    start, seconds = at("22:24:09"), 150
    exchange = replay(fixture_slice(start, seconds), speed=30, start_on_subscribe=False)
    without_websocket = replace(exchange_for(exchange), ws_url=closed_port_url())

    run = sample(without_websocket, warehouse, for_seconds=seconds - 10, speed=30)

    stats = exchange.stats()
    assert without_websocket.rest_budget_per_minute == 30
    assert stats.max_rest_requests_per_minute <= 30
    assert stats.rest_rejected_over_limit == 0
    assert stats.rest_requests == run.report.rest_requests >= 2 * 30  # the budget is used
    rest_rows = [row for row in stored(warehouse) if row.source == "rest"]
    assert {row.book for row in rest_rows} == set(BOOKS)


def test_after_a_429_the_client_backs_off_and_sends_nothing_during_the_lockout(
    warehouse: Warehouse, replay: Replay, fixture_slice: Slice
) -> None:
    start, seconds = at("22:24:09"), 200
    stricter_exchange = replay(
        fixture_slice(start, seconds), speed=60, start_on_subscribe=False, rest_limit_per_minute=10
    )
    rest_only = replace(exchange_for(stricter_exchange), ws_url=closed_port_url())

    run = sample(rest_only, warehouse, for_seconds=seconds - 20, speed=60)

    stats = stricter_exchange.stats()
    assert stats.rest_rejected_over_limit >= 1
    assert run.report.rest_rate_limited == stats.rest_rejected_over_limit
    assert stats.rest_rejected_during_lockout == 0
    assert stats.max_rest_requests_per_minute <= 30
    assert run.sampler.budget.per_minute < 30  # it learned the limit is lower
