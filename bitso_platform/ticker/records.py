"""What the capture produces: quotes from the exchange and one spread record per book and second."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Source = Literal["ws", "rest"]


@dataclass(frozen=True, slots=True)
class Quote:
    """Best bid and ask of a book as the exchange stated them at `exchange_at`."""

    book: str
    bid: float
    ask: float
    exchange_at: float  # epoch seconds on the exchange's clock (the message's own timestamp)
    received_at: float  # epoch seconds on the local wall clock when the message arrived
    source: Source


def spread_percent(bid: float, ask: float) -> float:
    """SPEC 6 spread: (best_ask - best_bid) * 100 / best_ask."""
    return (ask - bid) * 100 / ask


def utc(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


@dataclass(frozen=True, slots=True)
class SpreadRecord:
    """One book's second: its last quote in that second, the book's last snapshot held over a
    second without a message while the connection vouches for it, or a gap."""

    orderbook_timestamp: datetime  # the second, UTC
    book: str
    bid: float | None
    ask: float | None
    spread: float | None
    source: Source | None
    exchange_at: datetime | None
    received_at: datetime | None
    is_gap: bool
    is_crossed: bool
    is_held: bool = False

    @classmethod
    def covered(cls, second: int, quote: Quote, *, held: bool = False) -> "SpreadRecord":
        """The second priced by `quote`: one stamped in it, or (`held`) the last before it."""
        return cls(
            orderbook_timestamp=utc(second),
            book=quote.book,
            bid=quote.bid,
            ask=quote.ask,
            spread=spread_percent(quote.bid, quote.ask),
            source=quote.source,
            exchange_at=utc(quote.exchange_at),
            received_at=utc(quote.received_at),
            is_gap=False,
            is_crossed=quote.ask <= quote.bid,
            is_held=held,
        )

    @classmethod
    def gap(cls, second: int, book: str) -> "SpreadRecord":
        return cls(utc(second), book, None, None, None, None, None, None, True, False)

    def as_spec(self) -> dict[str, str | float | None]:
        """The record in the Markets team's SPEC 6 schema (ISO-8601 string timestamp)."""
        return {
            "orderbook_timestamp": self.orderbook_timestamp.isoformat(),
            "book": self.book,
            "bid": self.bid,
            "ask": self.ask,
            "spread": self.spread,
        }
