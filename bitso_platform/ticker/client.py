"""Bitso public market data: the WebSocket `orders` channel and a budgeted REST fallback.

Message formats (docs.bitso.com, "Orders Channel" and the public REST API):

- subscribe: `{"action": "subscribe", "book": "btc_mxn", "type": "orders"}`
- orders: `{"type": "orders", "book": ..., "sent": ms, "payload": {"bids": [{"r": rate,
  "a": amount, "v": value, "t": side, "d": ms, "o": id}, ...], "asks": [...]}}`, top 20 levels
- keep-alive: `{"type": "ka"}`
- REST: `{"success": true, "payload": {...}}` or `{"success": false, "error": {"code", "message"}}`
"""

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection, connect

from bitso_platform.backoff import Backoff
from bitso_platform.ticker.clock import FeedClock
from bitso_platform.ticker.limiter import RestBudget
from bitso_platform.ticker.records import Quote

log = logging.getLogger(__name__)

MAX_REMEMBERED_CONNECTIONS = 8  # past connections whose vouching an open second may still ask


def best_quote(
    bids: Iterable[dict[str, Any]], asks: Iterable[dict[str, Any]]
) -> tuple[float, float] | None:
    """Best bid (highest rate) and best ask (lowest rate), or None if a side is empty."""
    bid_rates = [float(level["r"]) for level in bids]
    ask_rates = [float(level["r"]) for level in asks]
    if not bid_rates or not ask_rates:
        return None
    return max(bid_rates), min(ask_rates)


def parse_orders(
    message: dict[str, Any], *, received_at: float, fallback_at: float
) -> Quote | None:
    """A quote from an `orders` message; `fallback_at` stands in when `sent` is missing."""
    payload = message.get("payload") or {}
    best = best_quote(payload.get("bids", ()), payload.get("asks", ()))
    if best is None or best[1] <= 0:
        return None
    sent = message.get("sent")
    exchange_at = sent / 1000 if isinstance(sent, int | float) else fallback_at
    return Quote(message["book"], best[0], best[1], exchange_at, received_at, "ws")


class OrdersFeed:
    """Keeps a WebSocket subscription to the `orders` channel alive and reports quotes.

    Reconnects with websockets' own reconnect iterator: at once after a connection that
    worked drops, with exponential backoff and jitter while connecting fails. A watchdog
    drops the connection when nothing (not even a keep-alive) arrives for `stale_after`
    feed seconds.

    Each connection has an id. A connection *vouches* for its books while it is open and a
    message arrived within `stale_after`: the channel sends every change, so a book's last
    snapshot received on it is still the book's state. Once it is gone it vouched up to the
    feed time of its last proof of life (the drop, or its last message for a watchdog trip).
    """

    def __init__(
        self,
        url: str,
        books: Iterable[str],
        *,
        clock: FeedClock,
        on_quote: Callable[[Quote], None],
        stale_after: float = 15.0,
        backoff: Backoff | None = None,
    ):
        self.url = url
        self.books = tuple(books)
        self.clock = clock
        self.on_quote = on_quote
        self.stale_after = stale_after
        self.backoff = backoff or Backoff()
        self.connected = False
        self.connections = 0
        self.watchdog_trips = 0
        self.messages = 0
        self._alive_at = -math.inf  # elapsed feed seconds of the last proof of life
        self._alive_feed_at = -math.inf  # the same moment on the feed clock
        self._lost_at: dict[int, float] = {}  # feed time each past connection vouched up to

    def current(self) -> int | None:
        """The id of the connection that vouches for the books now, or None."""
        if self.connected and self.clock.elapsed() - self._alive_at <= self.stale_after:
            return self.connections
        return None

    def vouches(self, connection: int, until: float) -> bool:
        """Whether `connection` vouched for its books up to feed time `until`."""
        if connection == self.connections and self.connected:
            return self.current() == connection
        return self._lost_at.get(connection, -math.inf) >= until

    async def run(self) -> None:
        """Connect, subscribe and read until cancelled, reconnecting whenever needed."""
        async for ws in connect(
            self.url,
            open_timeout=10,
            close_timeout=2,
            max_size=2**22,
            reconnect_delays=self.backoff.delays,
        ):
            messages = self.messages
            try:
                await self._subscribe(ws)
                self._opened()
                await self._read(ws)
            except websockets.exceptions.ConnectionClosed as exc:
                # A close the exchange announced (1000 or 1001: a restart, the replay's
                # recorded gap) is routine, and the sampler's reports count the connections.
                planned = isinstance(exc, websockets.exceptions.ConnectionClosedOK)
                level = logging.DEBUG if planned else logging.WARNING
                log.log(level, "WebSocket %s closed: %s (reconnecting)", self.url, exc)
                self._lost(self.clock.now())
            if self.messages == messages:  # it accepts and drops us: do not spin
                await asyncio.sleep(self.backoff.next())

    def _opened(self) -> None:
        self.connections += 1
        self.connected = True
        self._mark_alive()

    def _lost(self, vouched_until: float | None) -> None:
        if self.connected:
            self.connected = False
            self._lost_at[self.connections] = (
                vouched_until if vouched_until is not None else -math.inf
            )
            if len(self._lost_at) > MAX_REMEMBERED_CONNECTIONS:
                del self._lost_at[next(iter(self._lost_at))]

    def _mark_alive(self) -> None:
        self._alive_at = self.clock.elapsed()
        now = self.clock.now()
        self._alive_feed_at = now if now is not None else -math.inf

    async def _subscribe(self, ws: ClientConnection) -> None:
        for book in self.books:
            await ws.send(json.dumps({"action": "subscribe", "book": book, "type": "orders"}))

    async def _read(self, ws: ClientConnection) -> None:
        """Handle messages until the watchdog trips (returns) or the socket closes (raises)."""
        while True:
            try:
                async with asyncio.timeout(self.clock.wall(self.stale_after)):
                    raw = await ws.recv()
            except TimeoutError:
                self.watchdog_trips += 1
                log.warning(
                    "no message from %s for %.0f feed seconds: reconnecting",
                    self.url,
                    self.stale_after,
                )
                self._lost(self._alive_feed_at)
                ws.transport.abort()  # a dead peer would not answer a closing handshake
                return
            self.backoff.reset()
            self.messages += 1
            self._mark_alive()
            self._handle(raw)

    def _handle(self, raw: str | bytes) -> None:
        received_at = time.time()
        try:
            message = json.loads(raw)
            if message.get("type") != "orders" or "action" in message:
                return  # keep-alives and subscription acks only prove the socket is alive
            if message.get("book") not in self.books:
                return
            quote = parse_orders(
                message, received_at=received_at, fallback_at=self.clock.now() or received_at
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring a malformed message from %s: %s", self.url, exc)
            return
        if quote is not None:
            self.on_quote(quote)


class ExchangeError(Exception):
    """The exchange answered a REST request with an error."""


class RateLimited(ExchangeError):
    """HTTP 429: the exchange locked us out."""


class RestClient:
    """Public REST endpoints, every request paid for from the `budget`."""

    def __init__(
        self,
        api_url: str,
        budget: RestBudget,
        *,
        http: httpx.AsyncClient,
        speed: float = 1.0,
    ):
        self.api_url = api_url.rstrip("/")
        self.budget = budget
        self.http = http
        self.speed = speed
        self.requests = 0
        self.rate_limited = 0

    async def ticker(self, book: str) -> Quote:
        """Best bid and ask from `/v3/ticker`; raises `ExchangeError` (or `RateLimited`)."""
        payload = await self.get("/v3/ticker/", {"book": book})
        created_at = datetime.fromisoformat(payload["created_at"]).timestamp()
        bid, ask = float(payload["bid"]), float(payload["ask"])
        return Quote(book, bid, ask, created_at, time.time(), "rest")

    async def order_book(self, book: str) -> dict[str, Any]:
        """The aggregated order book from `/v3/order_book`."""
        return await self.get("/v3/order_book/", {"book": book})

    async def available_books(self) -> list[dict[str, Any]]:
        return await self.get("/v3/available_books/", {})

    async def get(self, path: str, params: dict[str, str]) -> Any:
        """GET `path` once the budget allows it; the `payload` of a successful answer."""
        while not self.budget.try_acquire():
            await asyncio.sleep(self.budget.wait_time() / self.speed)
        self.requests += 1
        try:
            response = await self.http.get(f"{self.api_url}{path}", params=params)
        except httpx.HTTPError as exc:
            raise ExchangeError(f"GET {path} failed: {exc}") from exc
        if response.status_code == 429:
            self._locked_out(response)
        return self._payload(path, response)

    def _locked_out(self, response: httpx.Response) -> None:
        self.rate_limited += 1
        retry_after = _retry_after(response)
        pause = self.budget.locked_out(retry_after * self.speed if retry_after else None)
        raise RateLimited(
            f"HTTP 429 from {self.api_url}: no REST request for {pause:.0f} feed seconds, "
            f"budget lowered to {self.budget.per_minute}/min"
        )

    def _payload(self, path: str, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError as exc:
            raise ExchangeError(f"GET {path}: HTTP {response.status_code}, not JSON") from exc
        if response.is_success and body.get("success"):
            self.budget.succeeded()
            return body["payload"]
        error = body.get("error") or {}
        raise ExchangeError(
            f"GET {path}: HTTP {response.status_code}, code {error.get('code')}: "
            f"{error.get('message')}"
        )


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None
