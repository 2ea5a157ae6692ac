"""Feature marts: point-in-time user features for ML, segments for Marketing, monthly stats.

Built by the same `daily_marts` job and the same `sql/marts/<table>.sql` pattern as the other
marts, after them. The user features are stored on the days they change (activity entering or
leaving a 7-, 30- or 90-day window), not per user and day; the views `user_features_as_of`,
`user_currency_features_as_of` and `user_segments` give every user's features as of any built
day.
"""

import dagster as dg

from bitso_platform.defs.marts.assets import Mart, mart_asset
from bitso_platform.defs.marts.partitions import daily_partitions

_DAY = ("day", "date", "UTC day on which a feature changed; as of D: latest row on or before D")
_USER = ("user_id", "text", "user (core.users)")
_CURRENCY = ("currency", "text", "currency code, lower case")
_WINDOWS = (
    ("7d", "7 days ending with the day"),
    ("30d", "30 days ending with the day"),
    ("90d", "90 days ending with the day"),
    ("to_date", "on or before the day"),
)


def _movement_columns(kind: str) -> tuple[tuple[str, str, str], ...]:
    """Count and amount of counted deposits or withdrawals over every window."""
    columns: tuple[tuple[str, str, str], ...] = ()
    for suffix, span in _WINDOWS:
        columns += (
            (f"count_{kind}_{suffix}", "bigint", f"counted {kind}, {span}"),
            (f"amount_{kind}_{suffix}", "numeric", f"amount of counted {kind}, {span}"),
        )
    return columns


DAILY_USER_FEATURES = Mart(
    table="daily_user_features",
    description=(
        "One row per user, currency and UTC day on which one of the user's features in that "
        "currency changed, from marts.daily_movements: counts and exact amounts of counted "
        "deposits and withdrawals over 7, 30, 90 days and to date, last deposit and withdrawal "
        "day. As of D = each account's latest row on or before D: views "
        "marts.user_currency_features_as_of and marts.user_features_as_of (per user: counts "
        "over currencies, logins over 7 and 30 days, days since, first-seen day, level)."
    ),
    deps=(
        "marts/daily_movements",
        "marts/daily_logins",
        "marts/daily_kpis",
        "core/users",
        "core/user_levels",
    ),
    key=("user_id", "currency", "day"),
    running=True,
    columns=(
        _DAY,
        _USER,
        _CURRENCY,
        *_movement_columns("deposits"),
        *_movement_columns("withdrawals"),
        ("last_deposit_on", "date", "last day with a counted deposit, on or before the day"),
        ("last_withdrawal_on", "date", "last day with a counted withdrawal, on or before it"),
    ),
    nullable=("last_deposit_on", "last_withdrawal_on"),
)

USER_SEGMENTS = Mart(
    table="user_segments",
    description=(
        "View: one row per built UTC day, segment and user, from the daily marts each rule "
        "follows from: never_deposited (no first deposit ordinal by the day), dormant (no login "
        "in 30 days), new_this_week (first seen in the last 7 days), high_value (top 1 % by "
        "90-day mxn deposits, then count). Computed when read for the days asked, a few index "
        "ranges per segment; a run recreates it and reports its last day."
    ),
    deps=(
        "marts/deposit_ordinals",
        "marts/daily_logins",
        "marts/daily_movements",
        "marts/daily_kpis",
        "core/users",
    ),
    key=("day", "segment", "user_id"),
    columns=(
        ("day", "date", "UTC day, as of its end"),
        ("segment", "text", "never_deposited | dormant | new_this_week | high_value"),
        _USER,
    ),
    view=True,
)

MONTHLY_CURRENCY_STATS = Mart(
    table="monthly_currency_stats",
    description=(
        "One row per currency and UTC calendar month with a counted deposit or withdrawal, "
        "from the daily marts (daily_currency_totals, daily_movements): counts, exact sums, "
        "averages and distinct users of counted deposits and withdrawals. A run rebuilds the "
        "whole months it touches."
    ),
    deps=("marts/daily_currency_totals", "marts/daily_movements", "marts/daily_kpis"),
    key=("month", "currency"),
    columns=(
        ("month", "date", "first day of the UTC month"),
        _CURRENCY,
        ("count_deposits", "bigint", "counted deposits"),
        ("amount_deposits", "numeric", "amount of counted deposits"),
        ("average_deposit", "numeric", "amount_deposits / count_deposits (null: none)"),
        ("count_depositors", "integer", "distinct users with a counted deposit"),
        ("count_withdrawals", "bigint", "counted withdrawals"),
        ("amount_withdrawals", "numeric", "amount of counted withdrawals"),
        ("average_withdrawal", "numeric", "amount_withdrawals / count_withdrawals (null: none)"),
        ("count_withdrawers", "integer", "distinct users with a counted withdrawal"),
        ("count_days_built", "integer", "days of the month the daily marts are built for"),
    ),
    period="month",
    nullable=("average_deposit", "average_withdrawal"),
)

# In dependency order, after MARTS: a run materializes them in this order.
FEATURE_MARTS = (
    DAILY_USER_FEATURES,
    USER_SEGMENTS,
    MONTHLY_CURRENCY_STATS,
)


@dg.definitions
def feature_marts() -> dg.Definitions:
    partitions = daily_partitions()
    return dg.Definitions(assets=[mart_asset(mart, partitions) for mart in FEATURE_MARTS])
