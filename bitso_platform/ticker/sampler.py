"""The sampler: one spread record per configured book and second, written to Postgres.

Coverage rule (SPEC 6). Bitso's `orders` channel sends a book's snapshot only when it
changes, so a book's second S is recorded as:

- *observed*: a message for the book whose exchange timestamp falls in [S, S+1) arrived
  (from the WebSocket, or from the REST fallback); the record holds the last such quote;
- *held* (`is_held`): no message in S, but the book's last snapshot came over a connection
  that vouched for the book through the end of S (open, with a message or keep-alive
  within the watchdog's window): nothing changed, so the record holds that snapshot, with
  its own `source`, `exchange_at` and `received_at`;
- a *gap* otherwise (before the first snapshot, after the connection that delivered it
  was lost, while REST has no answer): no prices, never an invented value.

Each book has a connection of its own, so a connection lost for one book (a replay
serves a recorded gap that way) says nothing about the others. Timestamps are the
exchange's, not ours, so network delay cannot move a quote into the wrong second.

A second is closed (its records emitted) once the clock has passed its end by `settle`
wall seconds, which leaves room for messages still in flight; a message for an already
closed second is counted as late and dropped.

The clock follows the feed: a quote far off it (more than `RESYNC_BEHIND` feed seconds
before the open seconds, or `MAX_AHEAD` after the clock) is dropped and counted, unless it
is the first quote of a new connection (the exchange restarted, or we reconnected after an
outage) or such quotes have kept coming for `RESYNC_AFTER` feed seconds (skew): then the
clock re-syncs to it. Off-clock quotes are logged at most every 10 s, and a book recorded
only as gaps for a minute while its WebSocket talks is logged as an error.
"""

import asyncio
import contextlib
import logging
import math
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from bitso_platform.backoff import Backoff
from bitso_platform.ticker.client import ExchangeError, OrdersFeed, RateLimited, RestClient
from bitso_platform.ticker.clock import FeedClock
from bitso_platform.ticker.config import ExchangeSettings
from bitso_platform.ticker.limiter import RestBudget
from bitso_platform.ticker.records import Quote, SpreadRecord
from bitso_platform.ticker.store import ObservationStore, ObservationWriter

log = logging.getLogger(__name__)

MIN_SLEEP = 0.005  # wall seconds; keeps very high replay speeds from spinning
MAX_AHEAD = 300.0  # feed seconds a quote may be ahead of the clock before it is distrusted
RESYNC_BEHIND = 10.0  # feed seconds before the open seconds beyond which a quote is off the clock
RESYNC_AFTER = 5.0  # feed seconds of off-clock quotes, and none on it, before the clock follows
BLIND_AFTER = 60  # seconds of gaps for a book while its WebSocket talks before logging an error
LOG_EVERY = 10.0  # wall seconds between two lines about the same kind of dropped quote


@dataclass(frozen=True)
class SamplerOptions:
    """Timing of the sampler; feed seconds scale with `speed`, wall seconds do not."""

    speed: float = 1.0
    settle: float = 0.5  # wall seconds a second stays open after its end for in-flight messages
    stale_after: float = 15.0  # feed seconds without any WebSocket message before reconnecting
    fallback_after: float = 3.0  # feed seconds without a WebSocket quote for a book before REST
    log_every: int = 60  # feed seconds between progress lines
    align_timeout: float = 10.0  # wall seconds to wait for an exchange timestamp at speed 1
    flush_every: float = 1.0  # wall seconds between database writes
    drain_timeout: float = 30.0  # wall seconds to finish writing on shutdown
    stop_drain: float = 3.0  # wall seconds to finish writing after stop() (SIGTERM, SIGINT)
    reconnect_base: float = 0.2  # wall seconds, first WebSocket reconnect delay


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A quote and the WebSocket connection (its id) that vouches it stays current."""

    quote: Quote
    connection: int | None


Vouches = Callable[[str, int, float], bool]  # (book, connection, until feed time) -> vouched


def _never(book: str, connection: int, until: float) -> bool:
    return False


class Throttled:
    """Counts events of one kind and logs them, at most one line per `every` wall seconds."""

    def __init__(self, message: str, every: float = LOG_EVERY):
        self.message = message
        self.every = every
        self.count = 0
        self._unlogged = 0
        self._logged_at = -math.inf

    def __call__(self, *args: object) -> None:
        self.count += 1
        self._unlogged += 1
        now = time.monotonic()
        if now - self._logged_at >= self.every:
            log.warning(f"{self.message} ({self._unlogged} since the last such line)", *args)
            self._unlogged, self._logged_at = 0, now


class SecondWindow:
    """Quotes per book and second, closed into records strictly in order."""

    def __init__(self, books: Iterable[str], vouches: Vouches = _never):
        self.books = tuple(books)
        self._known = frozenset(self.books)
        self._vouches = vouches
        self.next_second: int | None = None
        self.late = 0
        self._quotes: dict[int, dict[str, Snapshot]] = {}
        self._last: dict[str, Snapshot] = {}

    def start(self, second: int) -> None:
        """Begin recording at `second` unless recording has already begun."""
        if self.next_second is None:
            self.next_second = second

    def add(self, quote: Quote, connection: int | None = None) -> bool:
        """Keep the quote if it is its second's latest; False if unknown book or closed second.

        `connection` is the id of the connection that vouches for the book from now on
        (None when none does, e.g. a REST answer while the socket is down)."""
        if quote.book not in self._known:
            return False
        second = math.floor(quote.exchange_at)
        self.start(second)
        if second < self.next_second:  # type: ignore[operator]  # set by start()
            self.late += 1
            return False
        quotes = self._quotes.setdefault(second, {})
        current = quotes.get(quote.book)
        if current is None or _rank(quote) >= _rank(current.quote):
            quotes[quote.book] = Snapshot(quote, connection)
        return True

    def restart(self, second: int) -> None:
        """Record from `second` on (the feed's clock moved), dropping quotes not yet closed.
        The books' last snapshots stay: their connections still vouch for them."""
        self.next_second = second
        self._quotes.clear()

    def close_through(self, last_second: int) -> list[SpreadRecord]:
        """Records of every open second up to `last_second`: one per book, gaps included."""
        records: list[SpreadRecord] = []
        while self.next_second is not None and self.next_second <= last_second:
            second = self.next_second
            quotes = self._quotes.pop(second, {})
            for book in self.books:
                records.append(self._record(second, book, quotes.get(book)))
            self.next_second = second + 1
        return records

    def _record(self, second: int, book: str, snapshot: Snapshot | None) -> SpreadRecord:
        if snapshot is not None:
            self._last[book] = snapshot
            return SpreadRecord.covered(second, snapshot.quote)
        last = self._last.get(book)
        if last is not None and self._still_vouched(book, last, second + 1):
            return SpreadRecord.covered(second, last.quote, held=True)
        return SpreadRecord.gap(second, book)

    def _still_vouched(self, book: str, snapshot: Snapshot, until: int) -> bool:
        connection = snapshot.connection
        return connection is not None and self._vouches(book, connection, until)


def _rank(quote: Quote) -> tuple[float, bool]:
    """Later exchange time wins; at the same instant the WebSocket (the primary) wins."""
    return quote.exchange_at, quote.source == "ws"


@dataclass
class Tally:
    """Counts over emitted records, for progress lines and the final report."""

    seconds: int = 0
    covered: Counter[str] = field(default_factory=Counter)
    held: Counter[str] = field(default_factory=Counter)
    gaps: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    crossed: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, records: list[SpreadRecord], books: int) -> None:
        for record in records:
            if record.is_gap:
                self.gaps[record.book] += 1
            else:
                self.covered[record.book] += 1
                self.held[record.book] += record.is_held
                self.sources[record.source or ""] += 1
                self.crossed += record.is_crossed
        if records:
            self.first = self.first or records[0].orderbook_timestamp
            self.last = records[-1].orderbook_timestamp
            self.seconds += len(records) // books

    def coverage(self) -> float:
        total = sum(self.covered.values()) + sum(self.gaps.values())
        return sum(self.covered.values()) / total if total else 0.0


@dataclass(frozen=True)
class SamplerReport:
    """What a run did."""

    seconds: int
    first_second: datetime | None
    last_second: datetime | None
    covered: dict[str, int]  # observed and held seconds
    held: dict[str, int]
    gaps: dict[str, int]
    sources: dict[str, int]
    crossed: int
    coverage: float
    late_quotes: int
    ahead_quotes: int
    clock_resyncs: int
    ws_connections: int
    watchdog_trips: int
    rest_requests: int
    rest_rate_limited: int
    written: int
    unwritten: int
    cpu_seconds: float
    wall_seconds: float


class Sampler:
    """Samples the configured books every second of the feed clock into Postgres."""

    def __init__(
        self,
        exchange: ExchangeSettings,
        writer: ObservationWriter,
        options: SamplerOptions | None = None,
        *,
        clock: FeedClock | None = None,
    ):
        self.exchange = exchange
        self.options = options or SamplerOptions()
        self.clock = clock or FeedClock(self.options.speed)
        self.writer = writer
        self.feeds = {
            book: OrdersFeed(
                exchange.ws_url,
                (book,),
                clock=self.clock,
                on_quote=self.accept,
                stale_after=self.options.stale_after,
                backoff=Backoff(base=self.options.reconnect_base),
            )
            for book in exchange.books
        }
        self.window = SecondWindow(exchange.books, self._vouches)
        self._snapshot_on: dict[str, int | None] = {}
        self.budget = RestBudget(exchange.rest_budget_per_minute, clock=self.clock.elapsed)
        self.rest: RestClient | None = None
        self.tally = Tally()
        self._period = Tally()
        self._ws_seen = dict.fromkeys(exchange.books, self.clock.elapsed())
        self._rest_polled = dict.fromkeys(exchange.books, float("-inf"))
        self.rest_unanswered = 0
        self.clock_resyncs = 0
        self.ahead = Throttled("ignored a %s quote for %s stamped %.0f feed s ahead of the clock")
        self._late = Throttled("dropped a late %s quote for %s, %.1f s before the open seconds")
        self._quoted_on: dict[str, int | None] = {}
        self._off_since: float | None = None
        self._gap_run = dict.fromkeys(exchange.books, 0)
        self._blind_reported = dict.fromkeys(exchange.books, 0)  # gap run last logged at
        self._stopping = asyncio.Event()

    @classmethod
    def for_warehouse(
        cls, exchange: ExchangeSettings, warehouse_url: str, options: SamplerOptions | None = None
    ) -> "Sampler":
        """A sampler writing to the Postgres database at `warehouse_url`."""
        options = options or SamplerOptions()
        writer = ObservationWriter(ObservationStore(warehouse_url), flush_every=options.flush_every)
        return cls(exchange, writer, options)

    def accept(self, quote: Quote) -> None:
        """Take a quote from either source: it moves the clock and fills its second."""
        connection = self.feeds[quote.book].current()
        if not self._on_clock(quote, connection):
            return
        self.clock.observe(quote.exchange_at)
        if self.window.add(quote, connection):
            self._snapshot_on[quote.book] = connection
        else:  # late: add() started the window, so next_second is set
            self._late(quote.source, quote.book, (self.window.next_second or 0) - quote.exchange_at)
        if quote.source == "ws":
            self._ws_seen[quote.book] = self.clock.elapsed()

    def _on_clock(self, quote: Quote, connection: int | None) -> bool:
        """False for a quote to drop because it is far off the clock; re-syncs the clock
        instead when the feed has evidently moved (see the module docstring)."""
        first_on_connection = quote.source == "ws" and self._quoted_on.get(quote.book) != connection
        if quote.source == "ws":
            self._quoted_on[quote.book] = connection
        offset = self._off_clock_by(quote)
        if offset == 0:
            self._off_since = None
            return True
        elapsed = self.clock.elapsed()
        self._off_since = elapsed if self._off_since is None else self._off_since
        if first_on_connection or elapsed - self._off_since >= RESYNC_AFTER:
            self._resync(quote, offset)
            return True
        if offset > 0:
            self.ahead(quote.source, quote.book, offset)
            return False
        return True  # the window counts and logs it as late

    def _off_clock_by(self, quote: Quote) -> float:
        """Feed seconds the quote is ahead of (> 0) or behind (< 0) the clock when that is
        beyond the tolerances, else 0."""
        now = self.clock.now()
        if now is None:
            return 0.0
        if quote.exchange_at > now + MAX_AHEAD:
            return quote.exchange_at - now
        oldest_open = self.window.next_second
        if oldest_open is not None and quote.exchange_at < oldest_open - RESYNC_BEHIND:
            return quote.exchange_at - now
        return 0.0

    def _resync(self, quote: Quote, offset: float) -> None:
        self.clock_resyncs += 1
        self._off_since = None
        log.warning(
            "the feed's clock is %.0f s %s ours (a %s quote for %s): following it; seconds "
            "already recorded are kept as they are",
            abs(offset),
            "ahead of" if offset > 0 else "behind",
            quote.source,
            quote.book,
        )
        self.clock.align(quote.exchange_at)
        self.window.restart(math.floor(quote.exchange_at))

    def stop(self) -> None:
        """Ask `run` to keep the seconds that have ended, write them and return."""
        self._stopping.set()

    async def run_until_signalled(self, *, for_seconds: int | None = None) -> SamplerReport:
        """`run`, with SIGTERM (what `docker stop` sends) and SIGINT (Ctrl-C) as `stop()`."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        try:
            return await self.run(for_seconds=for_seconds)
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

    def _vouches(self, book: str, connection: int, until: float) -> bool:
        return self.feeds[book].vouches(connection, until)

    def _vouched_now(self, book: str) -> bool:
        """Whether the book's latest snapshot is on the connection that vouches for it now."""
        connection = self.feeds[book].current()
        return connection is not None and self._snapshot_on.get(book) == connection

    @property
    def ws_connections(self) -> int:
        return sum(feed.connections for feed in self.feeds.values())

    @property
    def watchdog_trips(self) -> int:
        return sum(feed.watchdog_trips for feed in self.feeds.values())

    async def run(self, *, for_seconds: int | None = None) -> SamplerReport:
        """Sample until `for_seconds` seconds are recorded (or forever), then flush."""
        cpu, wall = time.process_time(), time.monotonic()
        self._ws_seen = dict.fromkeys(self.exchange.books, self.clock.elapsed())
        async with httpx.AsyncClient(timeout=5.0) as http:
            self.rest = RestClient(
                self.exchange.api_url, self.budget, http=http, speed=self.clock.speed
            )
            sources = [asyncio.create_task(feed.run()) for feed in self.feeds.values()]
            sources.append(asyncio.create_task(self._fallback()))
            writing = asyncio.create_task(self.writer.run())
            try:
                await self._record(for_seconds, [*sources, writing])
            finally:
                self._close_ended(for_seconds)
                await self._shutdown(sources, writing)
        return self._report(time.process_time() - cpu, time.monotonic() - wall)

    async def _record(self, for_seconds: int | None, tasks: list[asyncio.Task[None]]) -> None:
        """Close seconds as the clock passes them until enough are recorded."""
        lag = self.options.settle * self.clock.speed
        started = time.monotonic()
        while not self._stopping.is_set() and (
            for_seconds is None or self.tally.seconds < for_seconds
        ):
            _raise_if_crashed(tasks)
            now = self._aligned_now(started)
            if now is None:
                await asyncio.sleep(0.05)
                continue
            self.window.start(math.floor(now))
            self._close_through(math.floor(now - lag) - 1, for_seconds)
            due = self.window.next_second + 1 + lag - now  # type: ignore[operator]
            await asyncio.sleep(min(1.0, max(MIN_SLEEP, self.clock.wall(due))))

    def _close_through(self, last: int, for_seconds: int | None) -> None:
        """Emit the seconds up to `last`, but never more than `for_seconds` in all."""
        if for_seconds is not None and self.window.next_second is not None:
            last = min(last, self.window.next_second + for_seconds - self.tally.seconds - 1)
        self._emit(self.window.close_through(last))

    def _close_ended(self, for_seconds: int | None) -> None:
        """On an early stop, keep the seconds that have ended rather than drop them."""
        now = self.clock.now()
        if now is not None:
            self._close_through(math.floor(now) - 1, for_seconds)

    def _aligned_now(self, started: float) -> float | None:
        """Feed time; at speed 1 the system clock stands in if the exchange stays silent."""
        now = self.clock.now()
        waited = time.monotonic() - started
        if now is None and self.clock.speed == 1 and waited > self.options.align_timeout:
            log.warning(
                "no exchange timestamp after %.0f s: recording gaps on the system clock; "
                "check BITSO_WS_URL=%s and BITSO_API_URL=%s",
                waited,
                self.exchange.ws_url,
                self.exchange.api_url,
            )
            self.clock.align(time.time())
            now = self.clock.now()
        return now

    def _emit(self, records: list[SpreadRecord]) -> None:
        if not records:
            return
        self.writer.submit(records)
        books = len(self.exchange.books)
        self._watch_for_blindness(records)
        self.tally.add(records, books)
        self._period.add(records, books)
        if self._period.seconds >= self.options.log_every:
            self._log_progress()
            self._period = Tally()

    def _watch_for_blindness(self, records: list[SpreadRecord]) -> None:
        """Log an error for each minute a book records only gaps while its WebSocket talks."""
        for record in records:
            book = record.book
            self._gap_run[book] = self._gap_run[book] + 1 if record.is_gap else 0
            if not record.is_gap:
                self._blind_reported[book] = 0
            due = self._gap_run[book] - self._blind_reported[book] >= BLIND_AFTER
            # due stays due while the socket reconnects: a minute of gaps is reported at the
            # first second the WebSocket talks again, not only on an exact multiple of 60
            if due and self.feeds[book].current() is not None:
                self._blind_reported[book] = self._gap_run[book]
                log.error(
                    "%s: nothing recorded for %d s although its WebSocket delivers messages: "
                    "no usable snapshot since it (re)connected and none from REST (late "
                    "quotes %d, ahead %d, clock re-syncs %d); check the book name and "
                    "BITSO_WS_URL; `bitso ticker health` fails until a second is recorded",
                    book,
                    self._gap_run[book],
                    self.window.late,
                    self.ahead.count,
                    self.clock_resyncs,
                )

    def _log_progress(self) -> None:
        period = self._period
        per_book = ", ".join(
            f"{book} {period.covered[book]}/{period.seconds}" for book in self.exchange.books
        )
        log.info(
            "%s..%s: covered %s (%.1f%% overall); ws %d, rest %d, crossed %d; "
            "written %d, pending %d; ws connections %d, watchdog trips %d; "
            "rest fallback polls %d (unanswered %d)",
            period.first.isoformat() if period.first else "?",
            period.last.strftime("%H:%M:%S") if period.last else "?",
            per_book,
            100 * self.tally.coverage(),
            period.sources["ws"],
            period.sources["rest"],
            period.crossed,
            self.writer.written,
            len(self.writer.pending),
            self.ws_connections,
            self.watchdog_trips,
            self.rest.requests if self.rest else 0,
            self.rest_unanswered,
        )

    async def _fallback(self) -> None:
        """Poll REST, within the budget, for books the WebSocket has left without quotes."""
        while True:
            book, wait = self._book_needing_rest()
            if book is not None:
                wait = self.budget.wait_time()
            if book is None or wait > 0:
                await asyncio.sleep(max(MIN_SLEEP, self.clock.wall(min(wait, 1.0))))
                continue
            self._rest_polled[book] = self.clock.elapsed()
            try:
                self.accept(await self.rest.ticker(book))  # type: ignore[union-attr]
            except RateLimited as exc:
                log.warning("%s", exc)
            except ExchangeError as exc:
                self.rest_unanswered += 1
                log.debug("REST fallback for %s: %s", book, exc)

    def _book_needing_rest(self) -> tuple[str | None, float]:
        """The least recently polled book that no connection vouches for and that had no
        WebSocket quote for `fallback_after`, or None and the feed seconds until one could
        need it (at most one: a connection can stop vouching at any time)."""
        stale_before = self.clock.elapsed() - self.options.fallback_after
        unvouched = {
            book: seen for book, seen in self._ws_seen.items() if not self._vouched_now(book)
        }
        stale = [book for book, seen in unvouched.items() if seen < stale_before]
        if stale:
            return min(stale, key=self._rest_polled.__getitem__), 0.0
        return None, min([*unvouched.values(), stale_before + 1.0]) - stale_before

    async def _shutdown(
        self, sources: list[asyncio.Task[None]], writing: asyncio.Task[None]
    ) -> None:
        for task in sources:
            task.cancel()
        await asyncio.gather(*sources, return_exceptions=True)
        self.writer.stop()
        drain = self.options.stop_drain if self._stopping.is_set() else self.options.drain_timeout
        with contextlib.suppress(TimeoutError):  # the writer logs what it could not write
            await asyncio.wait_for(writing, drain)

    def _report(self, cpu_seconds: float, wall_seconds: float) -> SamplerReport:
        tally = self.tally
        return SamplerReport(
            seconds=tally.seconds,
            first_second=tally.first,
            last_second=tally.last,
            covered=dict(tally.covered),
            held=dict(tally.held),
            gaps=dict(tally.gaps),
            sources=dict(tally.sources),
            crossed=tally.crossed,
            coverage=tally.coverage(),
            late_quotes=self.window.late,
            ahead_quotes=self.ahead.count,
            clock_resyncs=self.clock_resyncs,
            ws_connections=self.ws_connections,
            watchdog_trips=self.watchdog_trips,
            rest_requests=self.rest.requests if self.rest else 0,
            rest_rate_limited=self.rest.rate_limited if self.rest else 0,
            written=self.writer.written,
            unwritten=len(self.writer.pending),
            cpu_seconds=cpu_seconds,
            wall_seconds=wall_seconds,
        )


def _raise_if_crashed(tasks: list[asyncio.Task[None]]) -> None:
    """Surface a bug in a background task instead of sampling on without it."""
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise RuntimeError("a sampler task failed") from task.exception()
