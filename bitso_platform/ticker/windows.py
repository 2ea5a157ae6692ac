"""Ten-minute windows of spread records: what the lake files hold, their stats and checks.

A window's file for a book holds exactly one record per second (600): the observation the
sampler stored (observed, or held: `is_held`), or a gap record with null prices when it
stored a gap or nothing at all.
The functions here work on plain DataFrames so the assets, the checks and the tests share
them; nothing imports Dagster.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from bitso_platform.sql import load_sql
from bitso_platform.ticker.store import create_table

WINDOW = timedelta(minutes=10)
SECONDS_PER_WINDOW = int(WINDOW.total_seconds())
COVERAGE_WARN_BELOW = 0.99
COLUMNS = (
    "orderbook_timestamp",
    "book",
    "bid",
    "ask",
    "spread",
    "is_gap",
    "is_held",
    "is_sampled",
    "is_crossed",
    "source",
)


def window_records(
    conn: psycopg.Connection, start: datetime, end: datetime, books: tuple[str, ...]
) -> pd.DataFrame:
    """Records of every second of [start, end) for the books, ordered by book and second."""
    if conn.execute("select to_regclass('ticker.spread_observations')").fetchone() == (None,):
        create_table(conn)  # no sampler has run yet: every second is a gap
    cursor = conn.execute(
        load_sql("ticker/spread_window_records"),
        {"window_start": start, "window_end": end, "books": list(books)},
    )
    frame = pd.DataFrame(cursor.fetchall(), columns=list(COLUMNS))
    return frame.astype(
        {
            "bid": "float64",
            "ask": "float64",
            "spread": "float64",
            "is_gap": "bool",
            "is_held": "bool",
            "is_sampled": "bool",
            "is_crossed": "bool",
        }
    )


def seconds_of(frame: pd.DataFrame) -> pd.Series:
    """The records' seconds as UTC timestamps."""
    return pd.to_datetime(frame["orderbook_timestamp"], utc=True, format="ISO8601")


def window_stats(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per window and book: counts, coverage and spread statistics.

    Spread statistics are over covered seconds (crossed ones included, they are real
    quotes); p95 interpolates linearly, as Postgres `percentile_cont(0.95)` does.
    """
    if frame.empty:
        return _typed(pd.DataFrame(columns=list(STATS_COLUMNS)))
    seconds = seconds_of(frame)
    keyed = frame.assign(window_start=seconds.dt.floor(WINDOW), second_at=seconds)
    rows = [
        _stats_row(window_start, book, group)
        for (window_start, book), group in keyed.groupby(["window_start", "book"], sort=True)
    ]
    return _typed(pd.DataFrame(rows, columns=list(STATS_COLUMNS)))


def _typed(stats: pd.DataFrame) -> pd.DataFrame:
    """Fixed column types, so a column of nulls still maps to its Postgres type."""
    for column in STATS_TIMES:
        stats[column] = pd.to_datetime(stats[column], utc=True).astype("datetime64[us, UTC]")
    return stats.astype(STATS_TYPES)


STATS_COLUMNS = (
    "window_start",
    "window_end",
    "book",
    "count_records",
    "count_observed",
    "count_gaps",
    "count_held",
    "count_unsampled",
    "count_crossed",
    "coverage",
    "min_spread",
    "max_spread",
    "mean_spread",
    "p95_spread",
    "max_spread_at",
)
STATS_TIMES = ("window_start", "window_end", "max_spread_at")
STATS_TYPES = {
    "count_records": "int64",
    "count_observed": "int64",
    "count_gaps": "int64",
    "count_held": "int64",
    "count_unsampled": "int64",
    "count_crossed": "int64",
    "coverage": "float64",
    "min_spread": "float64",
    "max_spread": "float64",
    "mean_spread": "float64",
    "p95_spread": "float64",
}


def _stats_row(window_start: pd.Timestamp, book: str, group: pd.DataFrame) -> dict[str, object]:
    observed = group[~group["is_gap"]]
    spreads = observed["spread"].to_numpy(dtype="float64")
    peak = observed.loc[observed["spread"].idxmax(), "second_at"] if len(observed) else pd.NaT
    return {
        "window_start": window_start,
        "window_end": window_start + WINDOW,
        "book": book,
        "count_records": len(group),
        "count_observed": len(observed),
        "count_gaps": int(group["is_gap"].sum()),
        "count_held": int(group["is_held"].sum()),
        "count_unsampled": int((~group["is_sampled"]).sum()),
        "count_crossed": int(group["is_crossed"].sum()),
        "coverage": len(observed) / SECONDS_PER_WINDOW,
        "min_spread": spreads.min() if len(spreads) else np.nan,
        "max_spread": spreads.max() if len(spreads) else np.nan,
        "mean_spread": spreads.mean() if len(spreads) else np.nan,
        "p95_spread": np.percentile(spreads, 95) if len(spreads) else np.nan,
        "max_spread_at": peak,
    }


@dataclass(frozen=True)
class CheckOutcome:
    """A check's verdict over a run's windows, with its counts."""

    passed: bool
    warn_only: bool = False  # failed, but only at WARN severity
    description: str = ""
    metadata: dict[str, object] = field(default_factory=dict)


def expected_windows(start: datetime, end: datetime) -> list[datetime]:
    """Window starts of [start, end)."""
    count = int((end - start) / WINDOW)
    return [start + i * WINDOW for i in range(count)]


def check_record_counts(
    frame: pd.DataFrame, windows: list[datetime], books: tuple[str, ...]
) -> CheckOutcome:
    """600 records per book and window (ERROR otherwise); coverage (observed and held seconds)
    below 99 % is a WARN."""
    stats = window_stats(frame).set_index(["window_start", "book"])
    present_books = set(stats.index.get_level_values("book")) if len(stats) else set()
    grid = [(pd.Timestamp(w), b) for w in windows for b in sorted(set(books) | present_books)]
    counts = {key: int(stats["count_records"].get(key, 0)) for key in grid}
    coverage = {key: float(stats["coverage"].get(key, 0.0)) for key in grid}
    wrong = {key: n for key, n in counts.items() if n != SECONDS_PER_WINDOW}
    low = {key: c for key, c in coverage.items() if c < COVERAGE_WARN_BELOW}
    metadata: dict[str, object] = {
        "windows": len(windows),
        "book_windows": len(grid),
        "book_windows_not_600": len(wrong),
        "book_windows_below_99pct": len(low),
        "min_coverage": min(coverage.values(), default=0.0),
        "gap_records": int(frame["is_gap"].sum()),
        "held_records": int(frame["is_held"].sum()),
        "coverage": coverage_table(grid, counts, coverage),
    }
    if wrong:
        return CheckOutcome(
            False, False, f"{len(wrong)} book-windows without 600 records", metadata
        )
    if low:
        return CheckOutcome(False, True, f"{len(low)} book-windows below 99 % coverage", metadata)
    return CheckOutcome(True, metadata=metadata)


def coverage_table(
    grid: list[tuple[pd.Timestamp, str]],
    counts: dict[tuple[pd.Timestamp, str], int],
    coverage: dict[tuple[pd.Timestamp, str], float],
    limit: int = 60,
) -> str:
    """Markdown: window, book, records, coverage (the first `limit` book-windows)."""
    lines = ["| window | book | records | coverage |", "|---|---|---:|---:|"]
    for key in grid[:limit]:
        window, book = key
        lines.append(f"| {window:%Y-%m-%d %H:%M} | {book} | {counts[key]} | {coverage[key]:.1%} |")
    if len(grid) > limit:
        lines.append(f"| … {len(grid) - limit} more | | | |")
    return "\n".join(lines)


def check_seconds(frame: pd.DataFrame) -> CheckOutcome:
    """Each book's seconds are unique, whole, and strictly increasing in file order."""
    seconds = seconds_of(frame)
    not_whole = int((seconds != seconds.dt.floor("s")).sum())
    not_increasing = 0
    duplicates = 0
    for _, group in seconds.groupby(frame["book"], sort=False):
        steps = group.diff().dropna()
        not_increasing += int((steps <= pd.Timedelta(0)).sum())
        duplicates += int(group.duplicated().sum())
    metadata: dict[str, object] = {
        "records": len(frame),
        "duplicate_seconds": duplicates,
        "not_increasing": not_increasing,
        "not_whole_seconds": not_whole,
    }
    passed = len(frame) > 0 and not (duplicates or not_increasing or not_whole)
    return CheckOutcome(passed, metadata=metadata)


def check_spread_formula(frame: pd.DataFrame) -> CheckOutcome:
    """spread == (ask - bid) * 100 / ask exactly on covered records; gaps carry no prices."""
    covered = frame[~frame["is_gap"]]
    expected = (covered["ask"] - covered["bid"]) * 100 / covered["ask"]
    mismatched = int((covered["spread"] != expected).sum())
    gaps = frame[frame["is_gap"]]
    priced_gaps = int(gaps[["bid", "ask", "spread"]].notna().any(axis=1).sum())
    metadata: dict[str, object] = {
        "covered_records": len(covered),
        "formula_mismatches": mismatched,
        "max_abs_difference": float((covered["spread"] - expected).abs().max() or 0.0)
        if len(covered)
        else 0.0,
        "gap_records_with_prices": priced_gaps,
    }
    return CheckOutcome(not mismatched and not priced_gaps, metadata=metadata)


def check_ask_not_below_bid(frame: pd.DataFrame) -> CheckOutcome:
    """ask >= bid, except on records flagged is_crossed (crossed or locked), which are counted."""
    covered = frame[~frame["is_gap"]]
    below = covered["ask"] < covered["bid"]
    unflagged = int((below & ~covered["is_crossed"]).sum())
    metadata: dict[str, object] = {
        "covered_records": len(covered),
        "crossed_or_locked_flagged": int(covered["is_crossed"].sum()),
        "crossed_unflagged": unflagged,
        "locked": int((covered["ask"] == covered["bid"]).sum()),
    }
    return CheckOutcome(unflagged == 0, metadata=metadata)
