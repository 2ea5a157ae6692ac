"""Test helpers: observations stored straight into Postgres, and an independent computation
of the alert episodes SPEC 6 predicts, written differently from the implementation.

The implementation is a state machine fed one observation at a time. The reference works
on whole arrays: it first marks, for every observation at or below a threshold, where its
run at or below began; an episode then opens at the first observation above the threshold
and resolves at the first later observation at or below it whose run began at least
`quiet` seconds earlier.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from bitso_platform.devtools.replay import Observation
from bitso_platform.ticker.records import spread_percent
from bitso_platform.ticker.store import create_table, ensure_days

THRESHOLDS = (0.1, 0.5, 1.0)


@dataclass(frozen=True, order=True)
class ExpectedEpisode:
    book: str
    threshold: float
    opened_at: int  # epoch second
    resolved_at: int | None
    opening_spread: float
    peak_spread: float


def utc(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)


def store_observations(url: str, observations: Iterable[Observation]) -> int:
    """COPY observations into ticker.spread_observations in time order (ids follow time)."""
    rows = sorted(observations, key=lambda o: (o.second, o.book))
    with psycopg.connect(url) as conn:
        create_table(conn)
        ensure_days(conn, {utc(o.second).date() for o in rows})
        statement = (
            "copy ticker.spread_observations (orderbook_timestamp, book, bid, ask, spread,"
            " source, exchange_at, received_at, is_gap, is_crossed) from stdin"
        )
        with conn.cursor().copy(statement) as copy:
            for o in rows:
                at = utc(o.second)
                spread = spread_percent(o.bid, o.ask)
                copy.write_row(
                    (at, o.book, o.bid, o.ask, spread, "ws", at, at, False, o.ask <= o.bid)
                )
    return len(rows)


def stored_series(url: str) -> dict[str, list[tuple[int, float]]]:
    """Per book, the covered (second, spread) observations stored, in time order."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select book, orderbook_timestamp, spread from ticker.spread_observations"
            " where not is_gap order by book, orderbook_timestamp"
        ).fetchall()
    series: dict[str, list[tuple[int, float]]] = {}
    for book, at, spread in rows:
        series.setdefault(book, []).append((int(at.timestamp()), spread))
    return series


def series_of(observations: Iterable[Observation]) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    for o in sorted(observations, key=lambda o: (o.book, o.second)):
        series.setdefault(o.book, []).append((o.second, spread_percent(o.bid, o.ask)))
    return series


def expected_episodes(
    series: dict[str, list[tuple[int, float]]],
    thresholds: Sequence[float] = THRESHOLDS,
    quiet: float = 60,
    per_book: dict[str, Sequence[float]] | None = None,
) -> list[ExpectedEpisode]:
    """Every episode of every book and threshold, sorted."""
    episodes = []
    for book, points in series.items():
        for threshold in (per_book or {}).get(book, thresholds):
            episodes += _episodes(book, threshold, points, quiet)
    return sorted(episodes)


def _episodes(
    book: str, threshold: float, points: list[tuple[int, float]], quiet: float
) -> list[ExpectedEpisode]:
    seconds = [s for s, _ in points]
    spreads = [v for _, v in points]
    run_began: list[int | None] = []
    for k, spread in enumerate(spreads):
        if spread > threshold:
            run_began.append(None)
        elif k and run_began[k - 1] is not None:
            run_began.append(run_began[k - 1])
        else:
            run_began.append(seconds[k])
    found = []
    k = 0
    while True:
        opened = next((i for i in range(k, len(spreads)) if spreads[i] > threshold), None)
        if opened is None:
            return found
        resolved = next(
            (
                j
                for j in range(opened + 1, len(spreads))
                if run_began[j] is not None and seconds[j] - run_began[j] >= quiet
            ),
            None,
        )
        end = resolved if resolved is not None else len(spreads)
        found.append(
            ExpectedEpisode(
                book,
                threshold,
                seconds[opened],
                seconds[resolved] if resolved is not None else None,
                spreads[opened],
                max(spreads[opened:end]),
            )
        )
        if resolved is None:
            return found
        k = resolved + 1


def stored_episodes(url: str) -> list[ExpectedEpisode]:
    """The episodes in ticker.spread_alerts, in the reference's shape."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select book, threshold, opened_at, resolved_at, opening_spread, peak_spread"
            " from ticker.spread_alerts"
        ).fetchall()
    return sorted(
        ExpectedEpisode(
            book,
            threshold,
            int(opened.timestamp()),
            int(resolved.timestamp()) if resolved else None,
            opening,
            peak,
        )
        for book, threshold, opened, resolved, opening, peak in rows
    )


def notification_keys(url: str, sink: str = "log") -> list[str]:
    """Idempotency keys queued for a sink (duplicates would show twice)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select idempotency_key from ticker.alert_notifications where sink = %s", [sink]
        ).fetchall()
    return sorted(key for (key,) in rows)


def expected_keys(episodes: Iterable[ExpectedEpisode]) -> list[str]:
    """The idempotency keys the episodes imply: one per opening, one per resolution."""
    keys = []
    for e in episodes:
        prefix = f"spread-alert:{e.book}:{e.threshold:g}:{utc(e.opened_at).isoformat()}"
        keys.append(f"{prefix}:opened")
        if e.resolved_at is not None:
            keys.append(f"{prefix}:resolved")
    return sorted(keys)
