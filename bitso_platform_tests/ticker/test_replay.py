"""The replay exchange speaks Bitso's protocols and enforces Bitso's REST limit."""

import json
from collections.abc import Callable

import httpx
from websockets.sync.client import connect

from bitso_platform.ticker.replay import Observation, ReplayThread
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


def test_each_recorded_second_is_one_orders_message_and_a_gap_publishes_nothing(
    replay: Replay, fixture_slice: Slice
) -> None:
    observations = fixture_slice(at("22:32:09"), 8)  # both books miss 22:32:13
    exchange = replay(observations, speed=10)
    published: dict[str, list[int]] = {book: [] for book in BOOKS}
    keepalives = 0

    with connect(exchange.ws_url) as ws:
        for book in BOOKS:
            ws.send(json.dumps({"action": "subscribe", "book": book, "type": "orders"}))
        while len(published["btc_mxn"]) + len(published["usd_mxn"]) < len(observations):
            message = json.loads(ws.recv(timeout=5))
            if message["type"] == "ka":
                keepalives += 1
            elif "action" not in message:  # not the subscription acknowledgement
                payload = message["payload"]
                assert len(payload["bids"]) == len(payload["asks"]) == 20
                best = (float(payload["bids"][0]["r"]), float(payload["asks"][0]["r"]))
                second = message["sent"] // 1000
                assert any(best == (o.bid, o.ask) for o in observations if o.second == second)
                published[message["book"]].append(second)

    for book in BOOKS:
        assert published[book] == [o.second for o in observations if o.book == book]
        assert at("22:32:13") not in published[book]
    assert keepalives >= 1
