"""A local Bitso exchange that replays a recorded observation file, on loopback.

One port serves both protocols, as `websockets` can answer plain HTTP requests from
its `process_request` hook:

- REST under `http://HOST:PORT/v3/...`: `ticker`, `order_book`, `available_books`, with
  Bitso's `{"success": ..., "payload" | "error": ...}` envelopes and Bitso's public limit
  (60 requests per rolling minute per client IP, then HTTP 429 and a one-minute lockout);
- WebSocket at `ws://HOST:PORT/`: the `orders` channel (top 20 levels whose best bid and
  ask are the recorded ones, `sent` when sent, within the recorded second) and keep-alives.

The WebSocket behaves like Bitso's `orders` channel: subscriptions are acknowledged as
Bitso's documentation shows (`{"action": "subscribe", "response": "ok", "time": ms,
"type": "orders"}`), keep-alives (`{"type": "ka"}`) come every `keepalive_every` seconds,
and in the default `change-only` mode a book's snapshot is sent to a connection only when
its recorded bid or ask differs from what that connection was last sent (a connection
that subscribes gets the book's current snapshot at once, if the second is recorded).
The `every-second` mode sends every recorded second instead.

A recorded gap is served as what it was, a moment nothing vouched for the book: a fifth
of a second into the first missing second, every connection subscribed to that book is
closed (as is every connection once the recording ends), with a close frame saying so
(1001, going away): a planned close, not a network failure. A client that reconnects gets
nothing for the book until its next recorded second. Clients that subscribe each book on
a connection of its own (as the sampler does) lose only that book. `drop_connections()`
is the network failure: it aborts the connections without a close frame.

The clock runs `speed` recorded seconds per wall second, and every duration of the
exchange (the rate-limit minute, the lockout, the keep-alive interval) is on that clock,
so a sampler running at the same speed sees exactly what it would see in real time.

Test hooks: `drop_connections()`, `go_silent(seconds)` and `stats()`, also reachable
over HTTP at `/_replay/drop`, `/_replay/silence?seconds=N` and `/_replay/stats`.
"""

import asyncio
import csv
import json
import logging
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from bitso_platform.devtools.replay_modes import MODES, Mode
from bitso_platform.ticker.limiter import RollingWindow

log = logging.getLogger(__name__)
_protocol_log = logging.getLogger(f"{__name__}.protocol")
_protocol_log.setLevel(logging.WARNING)  # websockets logs every plain HTTP answer at INFO

COLUMNS = ["orderbook_timestamp", "book", "bid", "ask", "spread"]
DROP_INTO_GAP = 0.2  # feed seconds into a book's first missing second when its connections drop
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Observation:
    """A recorded best bid and ask of a book at a second (epoch seconds)."""

    second: int
    book: str
    bid: float
    ask: float


def read_observations(
    path: Path, *, start: datetime | None = None, end: datetime | None = None
) -> list[Observation]:
    """Observations of a SPEC 6 CSV file (the fixture's format), optionally in [start, end)."""
    low = start.timestamp() if start else -math.inf
    high = end.timestamp() if end else math.inf
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        if reader.fieldnames != COLUMNS:
            raise ValueError(
                f"{path}: header is {reader.fieldnames}, expected {','.join(COLUMNS)} "
                "(a SPEC 6 spread observation file)"
            )
        observations = []
        for line, row in enumerate(reader, start=2):
            observation = _observation(path, line, row)
            if low <= observation.second < high:
                observations.append(observation)
    return observations


def _observation(path: Path, line: int, row: dict[str, str]) -> Observation:
    try:
        moment = datetime.fromisoformat(row["orderbook_timestamp"])
        if moment.tzinfo is None:
            raise ValueError("timestamp without a UTC offset")
        return Observation(
            int(moment.timestamp()), row["book"], float(row["bid"]), float(row["ask"])
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}:{line}: cannot read observation {row}: {exc}") from exc


class Recording:
    """Observations indexed by second and by book."""

    def __init__(self, observations: Iterable[Observation]):
        self.by_second: dict[int, list[Observation]] = defaultdict(list)
        self._at: dict[tuple[str, int], Observation] = {}
        for observation in observations:
            self.by_second[observation.second].append(observation)
            self._at[(observation.book, observation.second)] = observation
        if not self._at:
            raise ValueError("the recording holds no observations: check the file and time range")
        self.first = min(self.by_second)
        self.last = max(self.by_second)
        self.books = tuple(sorted({book for book, _ in self._at}))

    def at(self, book: str, second: int) -> Observation | None:
        return self._at.get((book, second))


def orders_message(observation: Observation, levels: int = 20, sent_at: float | None = None) -> str:
    """Bitso `orders` message whose best bid and ask are the observation's, `sent` at
    `sent_at` (epoch seconds, within the observation's second; default: its start)."""
    sent_ms = observation.second * 1000 if sent_at is None else math.floor(sent_at * 1000)
    tick = 10.0 ** (math.floor(math.log10(observation.ask)) - 5)
    book = observation.book

    def side(best: float, step: float, side_code: int, name: str) -> list[dict[str, Any]]:
        rows = []
        for level in range(levels):
            rate = round(best + level * step, 8) if level else best  # the recorded value, exactly
            amount = round(0.001 * (1 + (observation.second + level) % 7), 8)
            rows.append(
                {
                    "o": f"{book}-{observation.second}-{name}{level}",
                    "r": repr(rate),
                    "a": repr(amount),
                    "v": repr(round(rate * amount, 8)),
                    "t": side_code,
                    "d": sent_ms,
                    "s": "undefined",
                }
            )
        return rows

    payload = {
        "bids": side(observation.bid, -tick, 0, "b"),
        "asks": side(observation.ask, tick, 1, "a"),
    }
    return json.dumps({"type": "orders", "book": book, "payload": payload, "sent": sent_ms})


class ClientLimits:
    """Bitso's public REST limit as the exchange applies it, per client address."""

    def __init__(
        self, limit: int, *, clock: Callable[[], float], window: float = 60.0, lockout: float = 60.0
    ):
        self.limit = limit
        self.window = window
        self.lockout = lockout
        self._clock = clock
        self._accepted: dict[str, RollingWindow] = defaultdict(lambda: RollingWindow(window))
        self._locked_until: dict[str, float] = defaultdict(lambda: -math.inf)
        self.received: dict[str, list[float]] = defaultdict(list)
        self.over_limit = 0
        self.during_lockout = 0

    def check(self, client: str) -> float | None:
        """None if the request may be served, else the seconds left of the lockout."""
        now = self._clock()
        self.received[client].append(now)
        if now < self._locked_until[client]:
            self.during_lockout += 1
            return self._locked_until[client] - now
        accepted = self._accepted[client]
        if len(accepted.at(now)) >= self.limit:
            self.over_limit += 1
            self._locked_until[client] = now + self.lockout
            return self.lockout
        accepted.add(now)
        return None

    def max_in_window(self) -> int:
        """Most requests any client sent within one rolling window."""
        best = 0
        for times in self.received.values():
            start = 0
            for end, moment in enumerate(times):
                while times[start] <= moment - self.window:
                    start += 1
                best = max(best, end - start + 1)
        return best


@dataclass(frozen=True)
class ReplayStats:
    """Counters of a replay, for tests and the benchmark (durations in feed seconds)."""

    feed_now: str | None
    seconds_published: int
    finished: bool
    ws_connections: int
    ws_open: int
    orders_sent: dict[str, int]
    keepalives_sent: int
    gap_drops: int
    rest_requests: int
    rest_by_path: dict[str, int]
    rest_rejected_over_limit: int
    rest_rejected_during_lockout: int
    max_rest_requests_per_minute: int


class ReplayExchange:
    """The replay server; `start()` and `stop()` inside a running event loop."""

    def __init__(
        self,
        observations: Iterable[Observation],
        *,
        speed: float = 1.0,
        mode: Mode = "change-only",
        host: str = "127.0.0.1",
        port: int = 0,
        rest_limit_per_minute: int = 60,
        keepalive_every: float = 5.0,
        start_on_subscribe: bool = False,
        lead_in: float = 1.0,
        levels: int = 20,
    ):
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.recording = Recording(observations)
        self.speed = speed
        self.mode = mode
        self.host = host
        self.port = port
        self.keepalive_every = keepalive_every
        self.start_on_subscribe = start_on_subscribe
        self.lead_in = lead_in
        self.levels = levels
        self.limits = ClientLimits(rest_limit_per_minute, clock=self._elapsed)
        self.finished = asyncio.Event()
        self._server: Server | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._anchor: float | None = None
        self._started = asyncio.Event()
        self._silent_until = -math.inf
        self._connections: set[ServerConnection] = set()
        self._subscribers: dict[str, set[ServerConnection]] = defaultdict(set)
        self._sent: dict[ServerConnection, dict[str, tuple[float, float]]] = defaultdict(dict)
        self._counts: Counter[str] = Counter()
        self._orders_sent: Counter[str] = Counter()
        self._rest_by_path: Counter[str] = Counter()
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    async def start(self) -> None:
        """Listen (on a free port when `port` is 0) and start the feed unless it waits."""
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            logger=_protocol_log,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._publisher = asyncio.create_task(self._publish())
        if not self.start_on_subscribe:
            self._begin(0.0)
        log.info("replay exchange on %s and %s", self.api_url, self.ws_url)

    async def stop(self) -> None:
        if self._publisher:
            self._publisher.cancel()
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    def feed_now(self) -> float | None:
        """The replay's clock in epoch seconds; None before the feed starts."""
        if self._anchor is None:
            return None
        return self.recording.first + (time.monotonic() - self._anchor) * self.speed

    def drop_connections(self) -> int:
        """Abort every WebSocket connection, as a network failure would."""
        dropped = list(self._connections)
        for connection in dropped:
            connection.transport.abort()
        return len(dropped)

    def go_silent(self, seconds: float) -> None:
        """Send nothing on any WebSocket (no data, no keep-alives) for `seconds` wall seconds."""
        self._silent_until = time.monotonic() + seconds

    def stats(self) -> ReplayStats:
        now = self.feed_now()
        return ReplayStats(
            feed_now=datetime.fromtimestamp(now, UTC).isoformat() if now is not None else None,
            seconds_published=self._counts["seconds"],
            finished=self.finished.is_set(),
            ws_connections=self._counts["ws_connections"],
            ws_open=len(self._connections),
            orders_sent=dict(self._orders_sent),
            keepalives_sent=self._counts["keepalives"],
            gap_drops=self._counts["gap_drops"],
            rest_requests=sum(self._rest_by_path.values()),
            rest_by_path=dict(self._rest_by_path),
            rest_rejected_over_limit=self.limits.over_limit,
            rest_rejected_during_lockout=self.limits.during_lockout,
            max_rest_requests_per_minute=self.limits.max_in_window(),
        )

    def _elapsed(self) -> float:
        return time.monotonic() * self.speed

    def _silent(self) -> bool:
        return time.monotonic() < self._silent_until

    def _begin(self, lead_in: float) -> None:
        """Start the feed `lead_in` feed seconds from now (time for the other subscriptions)."""
        if self._anchor is None:
            self._anchor = time.monotonic() + lead_in / self.speed
            self._started.set()

    async def _publish(self) -> None:
        """Publish each recorded second on time, then keep the sockets alive."""
        await self._started.wait()
        next_keepalive = float(self.recording.first)
        for second in range(self.recording.first, self.recording.last + 2):
            await self._sleep_until(second)
            next_keepalive = self._keepalives_through(second, next_keepalive)
            self._schedule_gap_drops(second)
            if second > self.recording.last:
                break
            if not self._silent():
                for observation in self.recording.by_second.get(second, ()):
                    self._send_orders(observation)
            self._counts["seconds"] += 1
        self.finished.set()
        log.info("replay finished: %d recorded seconds published", self._counts["seconds"])
        while True:
            await self._sleep_until(next_keepalive)
            next_keepalive = self._keepalives_through(next_keepalive, next_keepalive)

    def _wall_at(self, feed_time: float) -> float:
        """The monotonic wall time at which the replay's clock reads `feed_time`."""
        assert self._anchor is not None
        return self._anchor + (feed_time - self.recording.first) / self.speed

    async def _sleep_until(self, feed_time: float) -> None:
        delay = self._wall_at(feed_time) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def _keepalives_through(self, feed_time: float, next_keepalive: float) -> float:
        while next_keepalive <= feed_time:
            if not self._silent():
                broadcast(self._connections, '{"type":"ka"}')
                self._counts["keepalives"] += len(self._connections)
            next_keepalive += self.keepalive_every
        return next_keepalive

    def _schedule_gap_drops(self, second: int) -> None:
        """Drop the connections of books whose recording stops at `second`, `DROP_INTO_GAP`
        into it on the replay's clock (however late this runs).

        A client's clock follows our `sent` stamps, so it lags ours by its delivery
        latency: it sees the drop after the missing second began (the second before stays
        vouched for) and, unless it sees it most of a second late, before it ends."""
        drop_at = self._wall_at(second + DROP_INTO_GAP)
        for book in self.recording.books:
            if self.recording.at(book, second - 1) and not self.recording.at(book, second):
                asyncio.get_running_loop().call_later(
                    max(0.0, drop_at - time.monotonic()), self._drop_subscribers, book
                )

    def _drop_subscribers(self, book: str) -> None:
        """Close the book's connections with a close frame: the exchange going away on
        purpose, which its clients reconnect after as designed."""
        subscribers = list(self._subscribers.get(book, ()))
        reason = f"no {book} quote recorded from here"
        for connection in subscribers:
            closing = asyncio.create_task(connection.close(CloseCode.GOING_AWAY, reason))
            self._closing.add(closing)  # the loop keeps only a weak reference to a task
            closing.add_done_callback(self._closing.discard)
        self._counts["gap_drops"] += len(subscribers)

    def _stamp(self, observation: Observation) -> float:
        """Now on the replay's clock, as Bitso stamps `sent`, kept inside the observation's
        second (a late wake-up must not move a quote into the next one)."""
        now = self.feed_now() or observation.second
        return min(max(now, observation.second), observation.second + 0.999)

    def _send_orders(self, observation: Observation, to: Iterable[ServerConnection] = ()) -> None:
        """Send the observation to the book's subscribers (or `to`) that need it."""
        book, best = observation.book, (observation.bid, observation.ask)
        receivers = [
            connection
            for connection in (to or self._subscribers.get(book, ()))
            if self.mode == "every-second" or self._sent[connection].get(book) != best
        ]
        if receivers:
            broadcast(receivers, orders_message(observation, self.levels, self._stamp(observation)))
            self._orders_sent[book] += len(receivers)
            for connection in receivers:
                self._sent[connection][book] = best

    async def _handle(self, connection: ServerConnection) -> None:
        self._connections.add(connection)
        self._counts["ws_connections"] += 1
        try:
            async for raw in connection:
                await self._on_client_message(connection, raw)
        except ConnectionClosed:
            pass
        finally:
            self._connections.discard(connection)
            self._sent.pop(connection, None)
            for subscribers in self._subscribers.values():
                subscribers.discard(connection)

    async def _on_client_message(self, connection: ServerConnection, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
            action, book, kind = message["action"], message["book"], message["type"]
        except (ValueError, KeyError, TypeError):
            await connection.send(json.dumps({"response": "error", "message": "bad request"}))
            return
        known = action == "subscribe" and kind == "orders" and book in self.recording.books
        if known:
            self._subscribers[book].add(connection)
            if self.start_on_subscribe:
                self._begin(self.lead_in)
        if not self._silent():
            ack = {
                "action": action,
                "response": "ok" if known else "error",
                "time": int(time.time() * 1000),
                "type": kind,
            }
            await connection.send(json.dumps(ack))
        if known and not self._silent():
            self._send_current(connection, book)

    def _send_current(self, connection: ServerConnection, book: str) -> None:
        """A new subscriber's first snapshot: the book's recorded current second, if any."""
        now = self.feed_now()
        observation = self.recording.at(book, math.floor(now)) if now is not None else None
        if observation is not None:
            self._send_orders(observation, to=[connection])

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Answer plain HTTP (REST and test hooks); let WebSocket upgrades through."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        url = urlsplit(request.path)
        path = url.path.rstrip("/")
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        if path.startswith("/_replay/"):
            return self._control(path, query)
        self._rest_by_path[path] += 1
        locked_for = self.limits.check(connection.remote_address[0])
        if locked_for is not None:
            retry_after = max(1, math.ceil(locked_for / self.speed))
            return _error(
                HTTPStatus.TOO_MANY_REQUESTS,
                "0201",
                f"Too many requests: locked out for {retry_after} s",
                [("Retry-After", str(retry_after))],
            )
        return self._rest(path, query)

    def _rest(self, path: str, query: dict[str, str]) -> Response:
        if path == "/v3/available_books":
            return _success([{"book": book} for book in self.recording.books])
        if path not in ("/v3/ticker", "/v3/order_book"):
            return _error(HTTPStatus.NOT_FOUND, "0404", f"no endpoint {path}")
        book = query.get("book", "")
        if book not in self.recording.books:
            return _error(HTTPStatus.BAD_REQUEST, "0301", f"Unknown OrderBook {book!r}")
        now = self.feed_now()
        observation = self.recording.at(book, math.floor(now)) if now is not None else None
        if observation is None:
            return _error(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "0303",
                f"no {book} quote recorded for this second (a gap in the recording)",
            )
        if path == "/v3/ticker":
            return _success(_ticker(observation))
        return _success(_order_book(observation))

    def _control(self, path: str, query: dict[str, str]) -> Response:
        if path == "/_replay/stats":
            return _success(asdict(self.stats()))
        if path == "/_replay/drop":
            return _success({"dropped": self.drop_connections()})
        if path == "/_replay/silence":
            seconds = float(query.get("seconds", "0"))
            self.go_silent(seconds)
            return _success({"silent_for": seconds})
        return _error(HTTPStatus.NOT_FOUND, "0404", f"no replay control {path}")


def _timestamp(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).isoformat()


def _ticker(observation: Observation) -> dict[str, str]:
    return {
        "book": observation.book,
        "bid": repr(observation.bid),
        "ask": repr(observation.ask),
        "last": repr(observation.bid),
        "created_at": _timestamp(observation.second),
    }


def _order_book(observation: Observation) -> dict[str, Any]:
    def level(price: float) -> dict[str, str]:
        return {"book": observation.book, "price": repr(price), "amount": "0.001"}

    return {
        "bids": [level(observation.bid)],
        "asks": [level(observation.ask)],
        "updated_at": _timestamp(observation.second),
        "sequence": str(observation.second),
    }


def _json(status: HTTPStatus, body: Any, extra: Iterable[tuple[str, str]] = ()) -> Response:
    data = json.dumps(body).encode()
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Connection", "close"),
            *extra,
        ]
    )
    return Response(status.value, status.phrase, headers, data)


def _success(payload: Any) -> Response:
    return _json(HTTPStatus.OK, {"success": True, "payload": payload})


def _error(
    status: HTTPStatus, code: str, message: str, extra: Iterable[tuple[str, str]] = ()
) -> Response:
    return _json(status, {"success": False, "error": {"code": code, "message": message}}, extra)


class ReplayThread:
    """A `ReplayExchange` on its own event loop in a background thread.

    Use as a context manager; the hooks are thread-safe:

        with ReplayThread(ReplayExchange(observations, speed=20)) as replay:
            ... BITSO_API_URL=replay.api_url, BITSO_WS_URL=replay.ws_url ...
            replay.drop_connections()
    """

    def __init__(self, exchange: ReplayExchange):
        self.exchange = exchange
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="replay-exchange", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def __enter__(self) -> "ReplayThread":
        self._thread.start()
        self._ready.wait(timeout=10)
        if self._error or not self._ready.is_set():
            raise RuntimeError("the replay exchange did not start") from self._error
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._call(self.exchange.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    @property
    def api_url(self) -> str:
        return self.exchange.api_url

    @property
    def ws_url(self) -> str:
        return self.exchange.ws_url

    def drop_connections(self) -> int:
        return self._call(_returning(self.exchange.drop_connections))

    def go_silent(self, seconds: float) -> None:
        self._call(_returning(lambda: self.exchange.go_silent(seconds)))

    def stats(self) -> ReplayStats:
        return self._call(_returning(self.exchange.stats))

    def wait_finished(self, timeout: float) -> bool:
        """Block until every recorded second is published; False on timeout."""

        async def wait() -> bool:
            try:
                async with asyncio.timeout(timeout):
                    await self.exchange.finished.wait()
            except TimeoutError:
                return False
            return True

        return self._call(wait(), timeout=timeout + 5)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.exchange.start())
        except BaseException as exc:
            self._error = exc
            return
        finally:
            self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)


async def _returning(function: Callable[[], T]) -> T:
    return function()
