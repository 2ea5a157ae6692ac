"""The replay exchange speaks Bitso's protocols and enforces Bitso's REST limit."""

import contextlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.frames import CloseCode
from websockets.sync.client import ClientConnection, connect

from bitso_platform.devtools.replay import Observation, ReplayThread
from bitso_platform_tests.ticker.conftest import BOOKS, at

Slice = Callable[[int, int], list[Observation]]
Replay = Callable[..., ReplayThread]


def test_the_replay_serves_ticker_order_book_and_available_books_in_bitsos_format(
    replay: Replay, fixture_slice: Slice
) -> None:
    exchange = replay(fixture_slice(at("22:24:09"), 600), start_on_subscribe=False)
    api = httpx.Client(base_url=exchange.api_url)

    ticker = api.get("/v3/ticker/", params={"book": "btc_mxn"}).json()
    book = api.get("/v3/order_book/", params={"book": "usd_mxn"}).json()
    books = api.get("/v3/available_books/").json()
    unknown = api.get("/v3/ticker/", params={"book": "doge_mxn"})

    assert ticker["success"] and ticker["payload"]["book"] == "btc_mxn"
    assert ticker["payload"]["created_at"].startswith("2024-07-16T22:24:")
    assert float(ticker["payload"]["ask"]) > float(ticker["payload"]["bid"])
    assert book["success"] and {"bids", "asks", "updated_at"} <= set(book["payload"])
    assert [entry["book"] for entry in books["payload"]] == list(BOOKS)
    assert unknown.status_code == 400
    assert unknown.json() == {
        "success": False,
        "error": {"code": "0301", "message": "Unknown OrderBook 'doge_mxn'"},
    }
    assert exchange.stats().rest_by_path == {
        "/v3/ticker": 2,
        "/v3/order_book": 1,
        "/v3/available_books": 1,
    }


def test_a_client_over_60_requests_in_a_rolling_minute_gets_429_and_a_lockout(
    replay: Replay, fixture_slice: Slice
) -> None:
    exchange = replay(fixture_slice(at("22:24:09"), 600), start_on_subscribe=False)
    api = httpx.Client(base_url=exchange.api_url)

    statuses = [api.get("/v3/available_books/").status_code for _ in range(62)]
    answer = api.get("/v3/available_books/")

    assert statuses == [200] * 60 + [429, 429]
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 50
    assert answer.json()["success"] is False
    stats = exchange.stats()
    assert (stats.rest_rejected_over_limit, stats.rest_rejected_during_lockout) == (1, 2)
    assert stats.max_rest_requests_per_minute == 63


def read_until_dropped(ws: ClientConnection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Orders messages and acks of a connection until the replay drops it (its recording ended)."""
    orders: list[dict[str, Any]] = []
    acks: list[dict[str, Any]] = []
    with contextlib.suppress(ConnectionClosed):
        while True:
            message = json.loads(ws.recv(timeout=5))
            if "action" in message:
                acks.append(message)
            elif message != {"type": "ka"}:
                orders.append(message)
    return orders, acks


def subscribe(ws: ClientConnection, *books: str) -> None:
    for book in books:
        ws.send(json.dumps({"action": "subscribe", "book": book, "type": "orders"}))


def best_of(message: dict[str, Any]) -> tuple[float, float]:
    payload = message["payload"]
    assert len(payload["bids"]) == len(payload["asks"]) == 20
    return float(payload["bids"][0]["r"]), float(payload["asks"][0]["r"])


def test_by_default_a_books_snapshot_is_sent_only_when_its_bid_or_ask_changes(
    replay: Replay, fixture_slice: Slice
) -> None:
    observations = fixture_slice(at("22:24:09"), 40)  # no recorded gap
    exchange = replay(observations, speed=20)

    with connect(exchange.ws_url) as ws:
        subscribe(ws, *BOOKS)
        orders, acks = read_until_dropped(ws)

    for book in BOOKS:
        series = [(o.second, (o.bid, o.ask)) for o in observations if o.book == book]
        changes = [
            second for i, (second, best) in enumerate(series) if i == 0 or best != series[i - 1][1]
        ]
        sent = [m for m in orders if m["book"] == book]
        assert [m["sent"] // 1000 for m in sent] == changes
        assert all(best_of(m) == dict(series)[m["sent"] // 1000] for m in sent)
    assert len(orders) < len(observations) // 4
    assert [set(ack) for ack in acks] == [{"action", "response", "time", "type"}] * 2
    assert all(ack["response"] == "ok" and ack["type"] == "orders" for ack in acks)


def test_the_every_second_mode_sends_one_orders_message_per_recorded_second(
    replay: Replay, fixture_slice: Slice
) -> None:
    observations = fixture_slice(at("22:24:09"), 20)
    exchange = replay(observations, speed=20, mode="every-second")

    with connect(exchange.ws_url) as ws:
        subscribe(ws, *BOOKS)
        orders, _ = read_until_dropped(ws)

    for book in BOOKS:
        assert [m["sent"] // 1000 for m in orders if m["book"] == book] == [
            o.second for o in observations if o.book == book
        ]


def test_a_recorded_gap_closes_the_connections_of_that_book_and_only_those_with_a_close_frame(
    replay: Replay, fixture_slice: Slice
) -> None:
    gap = at("22:35:38")  # btc_mxn is not recorded in this second, usd_mxn is
    exchange = replay(fixture_slice(gap - 5, 30), speed=5)

    with connect(exchange.ws_url) as btc, connect(exchange.ws_url) as usd:
        subscribe(btc, "btc_mxn")
        subscribe(usd, "usd_mxn")
        with pytest.raises(ConnectionClosedOK) as closed:  # a planned close, not a failure
            while True:
                btc.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == CloseCode.GOING_AWAY
        assert closed.value.rcvd.reason == "no btc_mxn quote recorded from here"
        stats = exchange.stats()
        assert json.loads(usd.recv(timeout=5))  # the other book's connection carries on

    assert stats.gap_drops == 1 and not stats.finished
    assert stats.feed_now is not None and stats.feed_now[11:19] >= "22:35:38"
