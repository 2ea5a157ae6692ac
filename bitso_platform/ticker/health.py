"""Is the sampler alive? Every configured book must have a fresh priced record in Postgres.

The sampler writes one row per book and second; a priced (observed or held) row written
within the last `max_age` wall seconds proves that the process runs, the exchange feed
vouches for the book and the warehouse accepts writes. Gap rows alone mean the feed
stopped, so they do not count.
"""

from dataclasses import dataclass
from datetime import datetime

import psycopg

from bitso_platform.sql import load_sql


@dataclass(frozen=True)
class BookFreshness:
    """The newest priced record of a book and how long ago it was written (None: never)."""

    book: str
    orderbook_timestamp: datetime | None
    age_seconds: float | None

    def is_fresh(self, max_age: float) -> bool:
        return self.age_seconds is not None and self.age_seconds <= max_age

    def describe(self) -> str:
        if self.age_seconds is None:
            return f"{self.book}: no observation recorded yet"
        return (
            f"{self.book}: last observation {self.orderbook_timestamp.isoformat()} "
            f"written {self.age_seconds:.0f} s ago"
        )


def _observations_table_exists(conn: psycopg.Connection) -> bool:
    """The sampler creates ticker.spread_observations when it first starts."""
    exists = conn.execute("select to_regclass('ticker.spread_observations')").fetchone()
    return bool(exists and exists[0] is not None)


def book_freshness(conn: psycopg.Connection, books: tuple[str, ...]) -> list[BookFreshness]:
    """Freshness of every book; none recorded when the sampler never created its table."""
    if not _observations_table_exists(conn):
        return [BookFreshness(book, None, None) for book in sorted(books)]
    rows = conn.execute(load_sql("ticker/latest_observations"), {"books": list(books)}).fetchall()
    return [BookFreshness(book, at, age) for book, at, _, age in rows]
