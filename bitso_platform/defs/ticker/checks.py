"""Checks of the lake's spread files, per run of windows: they read the files just written.

Each check loads the run's windows through the lake IO manager (what a reader of the lake
would see, not what the asset meant to write) and reports its counts as metadata.
"""

import dagster as dg
import pandas as pd

from bitso_platform.defs.ticker.assets import TEN_MINUTES, TICKER_SPREAD
from bitso_platform.resources.exchange import BitsoExchange
from bitso_platform.ticker.windows import (
    CheckOutcome,
    check_ask_not_below_bid,
    check_record_counts,
    check_seconds,
    check_spread_formula,
    expected_windows,
)


def _result(name: str, outcome: CheckOutcome) -> dg.AssetCheckResult:
    severity = dg.AssetCheckSeverity.WARN if outcome.warn_only else dg.AssetCheckSeverity.ERROR
    metadata = {
        key: dg.MetadataValue.md(value) if isinstance(value, str) and "|" in value else value
        for key, value in outcome.metadata.items()
    }
    return dg.AssetCheckResult(
        asset_key=TICKER_SPREAD,
        check_name=name,
        passed=outcome.passed,
        severity=severity,
        description=outcome.description or None,
        metadata=metadata,  # type: ignore[arg-type]
    )


@dg.asset_check(asset=TICKER_SPREAD, partitions_def=TEN_MINUTES, blocking=True)
def six_hundred_records_per_book(
    context: dg.AssetCheckExecutionContext, ticker_spread: pd.DataFrame, exchange: BitsoExchange
) -> dg.AssetCheckResult:
    """Every configured (and every observed) book has 600 records in every window of the run;
    coverage (covered seconds / 600) is reported, and below 99 % fails at WARN severity."""
    window = context.partition_time_window
    outcome = check_record_counts(
        ticker_spread, expected_windows(window.start, window.end), exchange.book_list()
    )
    return _result("six_hundred_records_per_book", outcome)


@dg.asset_check(asset=TICKER_SPREAD, partitions_def=TEN_MINUTES, blocking=True)
def seconds_unique_and_increasing(ticker_spread: pd.DataFrame) -> dg.AssetCheckResult:
    """Each book's records are whole seconds, each once, strictly increasing in file order."""
    return _result("seconds_unique_and_increasing", check_seconds(ticker_spread))


@dg.asset_check(asset=TICKER_SPREAD, partitions_def=TEN_MINUTES)
def spread_formula_exact(ticker_spread: pd.DataFrame) -> dg.AssetCheckResult:
    """spread = (ask - bid) * 100 / ask exactly (same float operations), and gap records
    carry no prices."""
    return _result("spread_formula_exact", check_spread_formula(ticker_spread))


@dg.asset_check(asset=TICKER_SPREAD, partitions_def=TEN_MINUTES)
def ask_not_below_bid(ticker_spread: pd.DataFrame) -> dg.AssetCheckResult:
    """ask >= bid on every covered record, except crossed or locked books flagged is_crossed
    (kept, as the exchange sent them, and counted)."""
    return _result("ask_not_below_bid", check_ask_not_below_bid(ticker_spread))
