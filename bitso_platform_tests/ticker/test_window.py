"""How quotes become one record per book and second."""

import logging
from collections.abc import Callable

import pytest

from bitso_platform.ticker.clock import FeedClock
from bitso_platform.ticker.config import ExchangeSettings
from bitso_platform.ticker.records import Quote, SpreadRecord
from bitso_platform.ticker.sampler import Sampler, SecondWindow
from bitso_platform.ticker.store import ObservationStore, ObservationWriter

BOOKS = ("btc_mxn", "usd_mxn")


def sampler_on(clock: FeedClock) -> Sampler:
    """A sampler fed by hand (no connection, no database)."""
    writer = ObservationWriter(ObservationStore("postgresql://127.0.0.1/unused"))
    return Sampler(ExchangeSettings(books=BOOKS), writer, clock=clock)


def quote(book: str, at: float, bid: float, ask: float, source: str = "ws") -> Quote:
    return Quote(book, bid, ask, at, at + 0.05, source)  # type: ignore[arg-type]


def test_the_last_quote_of_a_second_is_its_record_and_a_book_without_one_is_a_gap() -> None:
    window = SecondWindow(BOOKS)
    window.add(quote("btc_mxn", 100.2, 10, 11))
    window.add(quote("btc_mxn", 100.9, 10, 12))
    window.add(quote("btc_mxn", 100.5, 10, 13))  # arrived late but stamped earlier

    records = window.close_through(100)

    assert [(r.book, r.ask, r.is_gap) for r in records] == [
        ("btc_mxn", 12, False),
        ("usd_mxn", None, True),
    ]


def test_a_quote_for_a_second_already_closed_is_dropped_as_late() -> None:
    window = SecondWindow(BOOKS)
    window.add(quote("btc_mxn", 100.2, 10, 11))
    window.close_through(100)

    assert not window.add(quote("usd_mxn", 100.7, 17, 18))
    assert window.late == 1


def test_at_the_same_instant_the_websocket_quote_wins_over_rest() -> None:
    window = SecondWindow(BOOKS)
    window.add(quote("btc_mxn", 100.0, 10, 11, source="ws"))
    window.add(quote("btc_mxn", 100.0, 10, 12, source="rest"))

    assert window.close_through(100)[0].source == "ws"


def test_a_crossed_or_locked_book_is_flagged() -> None:
    window = SecondWindow(BOOKS)
    window.add(quote("btc_mxn", 100.1, 10, 9.99))
    window.add(quote("usd_mxn", 100.1, 17, 17))

    assert [r.is_crossed for r in window.close_through(100)] == [True, True]


def test_a_quote_stamped_far_ahead_of_the_feed_cannot_fast_forward_the_clock() -> None:
    clock = FeedClock(1.0, monotonic=lambda: 0.0)
    sampler = sampler_on(clock)

    sampler.accept(quote("btc_mxn", 1000.2, 10, 11))
    sampler.accept(quote("btc_mxn", 1000.2 + 86400, 10, 11))

    assert clock.now() == 1000.2
    assert sampler.ahead.count == 1


def vouched_until(limit: float) -> Callable[[str, int, float], bool]:
    """Connection 1 vouches for every book up to feed time `limit`; no other connection does."""
    return lambda book, connection, until: connection == 1 and until <= limit


def test_a_second_without_a_message_holds_the_last_snapshot_while_its_connection_vouches() -> None:
    window = SecondWindow(BOOKS, vouched_until(103))
    window.add(quote("btc_mxn", 100.4, 10, 11), connection=1)

    records = [r for r in window.close_through(103) if r.book == "btc_mxn"]

    assert [(r.ask, r.is_held, r.is_gap) for r in records] == [
        (11, False, False),
        (11, True, False),
        (11, True, False),
        (None, False, True),  # the connection vouched only up to 103.0, not through 103
    ]
    assert records[1].exchange_at == records[0].exchange_at and records[1].source == "ws"


def test_a_book_never_quoted_or_quoted_without_a_vouching_connection_is_a_gap() -> None:
    window = SecondWindow(BOOKS, vouched_until(200))
    window.add(quote("btc_mxn", 100.4, 10, 11, source="rest"), connection=None)
    window.add(quote("usd_mxn", 100.4, 17, 18), connection=2)

    records = window.close_through(101)

    assert [(r.book, r.is_gap) for r in records if r.orderbook_timestamp.timestamp() == 101] == [
        ("btc_mxn", True),
        ("usd_mxn", True),
    ]


def test_late_quotes_are_counted_and_logged_at_most_once_per_ten_seconds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sampler = sampler_on(FeedClock(1.0, monotonic=lambda: 0.0))
    sampler.accept(quote("btc_mxn", 1000.2, 10, 11))
    sampler.window.close_through(1005)

    with caplog.at_level(logging.WARNING, logger="bitso_platform.ticker.sampler"):
        for _ in range(50):
            sampler.accept(quote("btc_mxn", 1001.5, 10, 11))

    assert sampler.window.late == 50
    assert [r.getMessage() for r in caplog.records] == [
        "dropped a late ws quote for btc_mxn, 4.5 s before the open seconds"
        " (1 since the last such line)"
    ]


def test_a_feed_that_stays_far_behind_the_clock_is_followed_after_five_feed_seconds() -> None:
    wall = [0.0]
    clock = FeedClock(1.0, monotonic=lambda: wall[0])
    sampler = sampler_on(clock)
    sampler.accept(quote("btc_mxn", 1000.2, 10, 11))

    for step in range(6):
        wall[0] = float(step)
        sampler.accept(quote("btc_mxn", 500.0 + step, 10, 11))  # an exchange 500 s behind

    assert sampler.clock_resyncs == 1
    assert clock.now() == 505.0 and sampler.window.next_second == 505


class _Feed:
    """A WebSocket feed that talks or not, as the test says."""

    def __init__(self) -> None:
        self.talking = True

    def current(self) -> int | None:
        return 1 if self.talking else None


def test_a_minute_of_gaps_is_reported_when_the_socket_talks_again_after_a_reconnect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sampler = sampler_on(FeedClock())
    feed = _Feed()
    sampler.feeds["usd_mxn"] = feed  # type: ignore[assignment]

    def gaps(first: int, count: int) -> None:
        for second in range(first, first + count):
            sampler._watch_for_blindness([SpreadRecord.gap(second, "usd_mxn")])

    with caplog.at_level(logging.ERROR, logger="bitso_platform.ticker.sampler"):
        gaps(0, 59)
        feed.talking = False  # reconnecting at the 60th second
        gaps(59, 2)
        feed.talking = True
        gaps(61, 1)  # reported now, not a minute later
        gaps(62, 60)  # and again after a further minute

    errors = [r.getMessage().split(" although")[0] for r in caplog.records]
    assert errors == [
        "usd_mxn: nothing recorded for 62 s",
        "usd_mxn: nothing recorded for 122 s",
    ]
