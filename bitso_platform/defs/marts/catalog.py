"""The marts, each declared once: what it holds and reads, its checks and the teams that read it.

A mart is its declaration here and its SQL file `sql/marts/<table>.sql`: the table's DDL, the
insert of a window's rows, its indexes, then the SQL of each check of its own, each after a
line `-- check: <name>`. The shared checks are templates (`sql/checks/marts_<name>.sql`).
Assets, checks, the build order and the team grants all follow from these declarations; a
declared check without its SQL, or SQL without its check, is refused at import. Nothing here
imports Dagster: `bitso access` reads the grants.
"""

from dataclasses import dataclass, replace
from datetime import timedelta
from graphlib import TopologicalSorter
from typing import TYPE_CHECKING, Literal

from bitso_platform.sql import sql_sections

if TYPE_CHECKING:
    from bitso_platform.defs.marts.partitions import Window

# The team roles (bitso_platform/access.py grants them what their marts declare).
Team = Literal["bi_reader", "ml_reader", "experimentation_reader", "marketing_reader"]
BI: Team = "bi_reader"
ML: Team = "ml_reader"
EXPERIMENTATION: Team = "experimentation_reader"
MARKETING: Team = "marketing_reader"


@dataclass(frozen=True)
class Check:
    """One named predicate over a mart's window: a section of the mart's SQL file.

    A template (`sql/checks/marts_<name>.sql`) serves every mart instead: it names the mart's
    table, key, time column and count_ columns as `{placeholders}` and reads its key index as
    parameters. `reads` are the assets (`schema/table`) it recomputes from besides the mart.
    A non-blocking check's `warning` says what its not passing means, from its SQL row's
    columns. A check `by_users` proves each user's rows apart from any other user's: its SQL
    reads the users from `%(first_user)s` up to `%(end_user)s` (null: no end) and returns
    counts, so ranges of users are checked side by side and their counts added up.
    """

    name: str
    description: str
    reads: tuple[str, ...] = ()
    blocking: bool = True
    windowed: bool = True
    template: bool = False
    warning: str = ""
    by_users: bool = False


@dataclass(frozen=True)
class Mart:
    """A table (or view) of schema `marts`: what it holds and reads, its key and columns, its
    checks and the teams that read it."""

    table: str
    description: str
    deps: tuple[str, ...]  # the assets it reads, `schema/table`
    key: tuple[str, ...]
    columns: tuple[tuple[str, str, str], ...]  # name, Postgres type, meaning
    checks: tuple[Check, ...]
    readers: tuple[Team, ...]
    views: tuple[str, ...] = ()  # views of schema marts its SQL also creates, for its readers
    period: str = "day"  # the time column: "day", or "month" for a monthly table
    view: bool = False  # a view computed when read: a run (re)creates it
    running: bool = False  # carries state from the day before (balances, counts to date)
    # groups by day into a few thousand groups: hashed, where the marts' session sorts every row
    few_groups: bool = False
    nullable: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if COUNTS_NOT_NEGATIVE in self.checks and not self.counts:
            raise ValueError(
                f"mart {self.table} declares check {COUNTS_NOT_NEGATIVE.name} but no column"
                " named count_*"
            )

    @property
    def asset(self) -> str:
        return f"marts/{self.table}"

    @property
    def counts(self) -> tuple[str, ...]:
        """Its count_ columns: what counts_not_negative tests."""
        return tuple(name for name, _, _ in self.columns if name.startswith("count_"))

    @property
    def sql_file(self) -> str:
        return f"marts/{self.table}"

    def check_sql(self) -> dict[str, str]:
        """Its own checks' SQL by name: the sections of its SQL file, one per declared check.

        A declared check without a section, or a section without a declared check, is refused.
        """
        sections = sql_sections(self.sql_file).checks
        declared = {check.name for check in self.checks if not check.template}
        if declared != sections.keys():
            raise ValueError(
                f"sql/{self.sql_file}.sql: no `-- check:` section for"
                f" {sorted(declared - sections.keys())}, no declared check for"
                f" {sorted(sections.keys() - declared)}"
            )
        return sections

    @property
    def relations(self) -> tuple[str, ...]:
        """What its readers are granted: the table and the views its SQL creates."""
        return tuple(f"marts.{name}" for name in (self.table, *self.views))

    def span(self, window: "Window") -> "Window":
        """The rows a run over the window rebuilds: whole months for a monthly table."""
        if self.period == "month":
            return replace(window, start=window.start.replace(day=1))
        return window

    def halves(self, window: "Window") -> "tuple[Window, Window] | None":
        """The window split in two at a day (a month for a monthly table), if it has two."""
        middle = window.start + timedelta(days=window.days // 2)
        if self.period == "month":
            middle = middle.replace(day=1)
            if middle <= window.start:
                middle = (middle + timedelta(days=31)).replace(day=1)
        if not window.start < middle < window.end:
            return None
        return replace(window, end=middle), replace(window, start=middle)

    def shown(self, window: "Window") -> "Window":
        """The days a run reports on: a view's last day only (a view holds every day)."""
        return replace(window, start=window.last) if self.view else window


def marts_read(marts: tuple[Mart, ...]) -> dict[str, set[str]]:
    """Per mart (its asset), the marts it reads."""
    return {mart.asset: {dep for dep in mart.deps if dep.startswith("marts/")} for mart in marts}


def in_build_order(marts: tuple[Mart, ...]) -> tuple[Mart, ...]:
    """The marts, each after the marts it reads (a running mart's own earlier days aside).

    A cycle (graphlib.CycleError) or a read of an undeclared mart is refused here, at import.
    """
    by_asset = {mart.asset: mart for mart in marts}
    reads = marts_read(marts)
    undeclared = set().union(*reads.values()) - by_asset.keys()
    if undeclared:
        raise ValueError(f"marts read undeclared marts: {', '.join(sorted(undeclared))}")
    return tuple(by_asset[asset] for asset in TopologicalSorter(reads).static_order())


def with_check_sql(marts: tuple[Mart, ...]) -> tuple[Mart, ...]:
    """The marts, once each one's checks are found to match the sections of its SQL file."""
    for mart in marts:
        mart.check_sql()
    return marts


KEYS_UNIQUE = Check(
    "keys_unique",
    "At most one row per key: the unique index enforces it; without it, the window is counted.",
    template=True,
)
COUNTS_NOT_NEGATIVE = Check(
    "counts_not_negative",
    "No count_ column is negative in the window.",
    template=True,
)

_DAY = ("day", "date", "UTC day")
_USER = ("user_id", "text", "user (core.users)")
_CURRENCY = ("currency", "text", "currency code, lower case")
_COUNTED = "counted (status complete)"
_FAILED = "failed (any status other than complete)"

DAILY_MOVEMENTS = Mart(
    table="daily_movements",
    description=(
        "One row per user, currency and UTC day with at least one deposit or withdrawal, "
        "from core.transactions: counts and amounts, counted (complete) and failed apart."
    ),
    deps=("core/transactions",),
    key=("day", "user_id", "currency"),
    checks=(
        KEYS_UNIQUE,
        COUNTS_NOT_NEGATIVE,
        Check(
            "reconciles_with_core",
            "Each day's counted and failed counts and amounts equal core.transactions' grouped "
            "by kind and status (the mart's columns unpivoted to match); no empty rows.",
            ("core/transactions",),
        ),
    ),
    readers=(BI, ML),
    columns=(
        _DAY,
        _USER,
        _CURRENCY,
        ("count_deposits", "integer", f"deposits, {_COUNTED}"),
        ("amount_deposits", "numeric", f"amount deposited, {_COUNTED}"),
        ("count_withdrawals", "integer", f"withdrawals, {_COUNTED}"),
        ("amount_withdrawals", "numeric", f"amount withdrawn, {_COUNTED}"),
        ("count_failed_deposits", "integer", f"deposits, {_FAILED}"),
        ("amount_failed_deposits", "numeric", f"amount of deposits, {_FAILED}"),
        ("count_failed_withdrawals", "integer", f"withdrawals, {_FAILED}"),
        ("amount_failed_withdrawals", "numeric", f"amount of withdrawals, {_FAILED}"),
    ),
)

DAILY_BALANCES = Mart(
    table="daily_balances",
    description=(
        "One row per user, currency and UTC day on which a counted movement changed the "
        "balance, from marts.daily_movements: the running balance (counted deposits minus "
        "counted withdrawals) as of the end of the day. Balance as of any day D = the row "
        "with the latest day on or before D."
    ),
    deps=("marts/daily_movements",),
    key=("day", "user_id", "currency"),
    checks=(
        KEYS_UNIQUE,
        Check(
            "equal_sum_of_movements",
            "Each running balance equals counted deposits minus counted withdrawals of its "
            "user and currency in core.transactions up to the end of its day: the window's "
            "changes per day and account against core, continuing the account's last balance "
            "before the window (checked on its own day), with nothing in core in between.",
            ("core/transactions",),
        ),
    ),
    readers=(ML,),
    running=True,
    columns=(
        _DAY,
        _USER,
        _CURRENCY,
        ("amount_deposits", "numeric", f"amount deposited on the day, {_COUNTED}"),
        ("amount_withdrawals", "numeric", f"amount withdrawn on the day, {_COUNTED}"),
        ("net_amount", "numeric", "amount_deposits - amount_withdrawals"),
        ("balance", "numeric", "cumulative net amount to the end of the day"),
    ),
)

DAILY_CURRENCY_TOTALS = Mart(
    table="daily_currency_totals",
    description=(
        "One row per currency and UTC day with at least one deposit or withdrawal, from "
        "marts.daily_movements: counts, exact amounts and distinct users. Answers Q6, Q7, Q8."
    ),
    deps=("marts/daily_movements",),
    key=("day", "currency"),
    checks=(
        KEYS_UNIQUE,
        COUNTS_NOT_NEGATIVE,
        Check(
            "reconciles_with_core",
            "Each currency and day's counts, amounts and distinct users equal a direct "
            "aggregation of core.transactions.",
            ("core/transactions",),
        ),
    ),
    readers=(BI,),
    few_groups=True,
    columns=(
        _DAY,
        _CURRENCY,
        ("count_deposits", "integer", f"deposits, {_COUNTED}"),
        ("amount_deposits", "numeric", f"amount deposited, {_COUNTED}"),
        ("count_depositors", "integer", f"distinct users with deposits, {_COUNTED}"),
        ("count_withdrawals", "integer", f"withdrawals, {_COUNTED}"),
        ("amount_withdrawals", "numeric", f"amount withdrawn, {_COUNTED}"),
        ("count_withdrawers", "integer", f"distinct users with withdrawals, {_COUNTED}"),
        ("count_failed_deposits", "integer", f"deposits, {_FAILED}"),
        ("amount_failed_deposits", "numeric", f"amount of deposits, {_FAILED}"),
        ("count_failed_withdrawals", "integer", f"withdrawals, {_FAILED}"),
        ("amount_failed_withdrawals", "numeric", f"amount of withdrawals, {_FAILED}"),
    ),
)

DAILY_LOGINS = Mart(
    table="daily_logins",
    description=(
        "One row per user and UTC day with at least one login, from core.logins: the day's "
        "logins, the last login as of the end of the day, and the state carried from earlier "
        "days. Answers Q4 and Q5."
    ),
    deps=("core/logins",),
    key=("day", "user_id"),
    checks=(
        KEYS_UNIQUE,
        COUNTS_NOT_NEGATIVE,
        Check(
            "reconciles_with_core",
            "Each day's logins, first and last login equal core.logins'.",
            ("core/logins",),
        ),
    ),
    readers=(ML, EXPERIMENTATION),
    columns=(
        _DAY,
        _USER,
        ("count_logins", "integer", "login events on the day"),
        ("first_login_at", "timestamp with time zone", "first login of the day"),
        ("last_login_at", "timestamp with time zone", "last login as of the end of the day"),
    ),
)

DAILY_USER_STATUS = Mart(
    table="daily_user_status",
    description=(
        "One row per user and UTC day on which the user is ACTIVE (at least one counted "
        "deposit or withdrawal: what Q1 counts), from marts.daily_movements. Inactive days "
        "are not stored; counts to date carry each user's history forward."
    ),
    deps=("marts/daily_movements",),
    key=("day", "user_id"),
    checks=(
        KEYS_UNIQUE,
        COUNTS_NOT_NEGATIVE,
        Check(
            "reconciles_with_core",
            "One ACTIVE row per user with a counted movement each day; counts to date chain "
            "from the user's last row before the window (checked on its own day, nothing in "
            "core in between) and match core.transactions at the end of the window.",
            ("core/transactions",),
        ),
    ),
    readers=(BI, EXPERIMENTATION, MARKETING),
    running=True,
    columns=(
        _DAY,
        _USER,
        ("status", "text", "always ACTIVE: only active days are stored"),
        ("count_deposits", "integer", f"deposits on the day, {_COUNTED}, all currencies"),
        ("count_withdrawals", "integer", f"withdrawals on the day, {_COUNTED}, all currencies"),
        ("count_currencies", "integer", "currencies with a counted movement on the day"),
        ("count_deposits_to_date", "bigint", f"deposits on or before the day, {_COUNTED}"),
        ("count_withdrawals_to_date", "bigint", f"withdrawals on or before the day, {_COUNTED}"),
        (
            "deposit_ordinals",
            "int8range",
            "ordinals of the user's counted deposits made on the day: [6,8) = 6th and 7th",
        ),
    ),
)

DEPOSIT_ORDINALS = Mart(
    table="deposit_ordinals",
    description=(
        "One row per user and counted deposit, numbered in time order per user (1 = first), "
        "with its UTC day, from marts.daily_user_status. Answers Q2 (no ordinal 1 on or before "
        "D) and Q3 (ordinal N+1 on or before D) with one index range each."
    ),
    deps=("marts/daily_user_status",),
    key=("ordinal", "day", "user_id"),
    checks=(
        KEYS_UNIQUE,
        Check(
            "reconciles_with_core",
            "One row per counted deposit each day, each user's numbered on from the user's last "
            "ordinal before the window (checked on its own day, no deposit in core in between).",
            ("core/transactions",),
        ),
    ),
    readers=(BI, ML, MARKETING),
    columns=(
        ("ordinal", "bigint", "k for the user's k-th counted deposit"),
        _DAY,
        _USER,
    ),
)

DAILY_KPIS = Mart(
    table="daily_kpis",
    description=(
        "One row per UTC day, activity or not, for BI: active users, depositors, counted and "
        "failed movements, amounts per currency, logins, new users, currencies. A row also "
        "records that the day is built; questions refuse days without one."
    ),
    deps=(
        "marts/daily_user_status",
        "marts/daily_currency_totals",
        "marts/daily_logins",
        "core/users",
    ),
    key=("day",),
    checks=(
        KEYS_UNIQUE,
        COUNTS_NOT_NEGATIVE,
        Check(
            "reconciles_with_core",
            "One row per day; every count, distinct-user figure and amount per currency "
            "equals a recomputation from core, first depositors marts.deposit_ordinals'.",
            ("core/transactions", "core/logins", "core/users", "marts/deposit_ordinals"),
        ),
        Check(
            "cover_fact_days",
            "Every day from the first to the last transaction or login is built, and none "
            "falls before the first partition. Looks at the whole table; warns.",
            ("core/transactions", "core/logins"),
            blocking=False,
            windowed=False,
            warning=(
                "{unbuilt_fact_days:,} days with transactions or logins are not built (facts "
                "{first_fact_day}..{last_fact_day}, built {first_built_day}..{last_built_day})"
            ),
        ),
    ),
    readers=(BI, ML, EXPERIMENTATION, MARKETING),
    few_groups=True,
    columns=(
        _DAY,
        ("count_active_users", "integer", "users with a counted deposit or withdrawal (Q1)"),
        ("count_depositors", "integer", f"users with a deposit, {_COUNTED}"),
        ("count_withdrawers", "integer", f"users with a withdrawal, {_COUNTED}"),
        ("count_first_depositors", "integer", "users whose first counted deposit is on the day"),
        ("count_new_users", "integer", "users first seen on the day (core.users.first_seen_on)"),
        ("count_users_logged_in", "integer", "users with at least one login"),
        ("count_deposits", "integer", f"deposits, {_COUNTED}"),
        ("count_withdrawals", "integer", f"withdrawals, {_COUNTED}"),
        ("amount_deposits_by_currency", "jsonb", f"currency -> exact amount deposited, {_COUNTED}"),
        (
            "amount_withdrawals_by_currency",
            "jsonb",
            f"currency -> exact amount withdrawn, {_COUNTED}",
        ),
        ("count_failed_deposits", "integer", f"deposits, {_FAILED}"),
        ("count_failed_withdrawals", "integer", f"withdrawals, {_FAILED}"),
        ("count_logins", "integer", "login events"),
        ("count_deposit_currencies", "integer", f"currencies deposited, {_COUNTED} (Q6)"),
        ("count_withdrawal_currencies", "integer", f"currencies withdrawn, {_COUNTED} (Q7)"),
    ),
)

# Feature marts: point-in-time user features for ML, segments for Marketing, monthly stats.
# The user features are stored on the days they change (activity entering or leaving a 7-,
# 30- or 90-day window), not per user and day; views give every user's features as of a day.
_CHANGE_DAY = (
    "day",
    "date",
    "UTC day on which a feature changed; as of D: latest row on or before D",
)
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
        "day. As of D = each account's latest row on or before D (the view mart "
        "user_features_as_of)."
    ),
    deps=("marts/daily_movements",),
    key=("user_id", "currency", "day"),
    checks=(
        KEYS_UNIQUE,
        Check(
            "windows_nest",
            "Every row's windows nest: 0 <= 7 days <= 30 days <= 90 days <= to date.",
        ),
        Check(
            "no_future_information",
            "Nothing dated after a row's day: last days on or before it, no row before the "
            "user's first-seen day.",
            ("core/users",),
        ),
        Check(
            "reconciles_with_daily_marts",
            "Every row's 7-, 30- and 90-day windows equal the daily_movements rows dated within "
            "them (so none after the row's day), its values to date the account's last row "
            "before the window (checked on its own day) plus the window's rows, and a row "
            "exists wherever a movement enters or leaves a window.",
            ("marts/daily_movements", "core/transactions"),
            by_users=True,
        ),
    ),
    readers=(ML,),
    running=True,
    columns=(
        _CHANGE_DAY,
        _USER,
        _CURRENCY,
        *_movement_columns("deposits"),
        *_movement_columns("withdrawals"),
        ("last_deposit_on", "date", "last day with a counted deposit, on or before the day"),
        ("last_withdrawal_on", "date", "last day with a counted withdrawal, on or before it"),
    ),
    nullable=("last_deposit_on", "last_withdrawal_on"),
)

USER_FEATURES_AS_OF = Mart(
    table="user_features_as_of",
    description=(
        "Views: each user's features as of the end of a built UTC day, for every user seen by "
        "then (counted deposits and withdrawals over 7, 30, 90 days and to date, summed over "
        "currencies; logins over 7 and 30 days; last deposit and login, days since; first-seen "
        "day; level and jurisdiction), and per account in user_currency_features_as_of. "
        "Computed when read from each account's latest daily_user_features row; a run "
        "recreates them and reports their last day."
    ),
    deps=(
        "marts/daily_user_features",
        "marts/daily_logins",
        "marts/daily_kpis",
        "core/users",
        "core/user_levels",
    ),
    key=("day", "user_id"),
    checks=(),
    readers=(ML,),
    views=("user_currency_features_as_of",),
    columns=(
        ("day", "date", "UTC day, as of its end"),
        _USER,
        ("first_seen_on", "date", "first transaction or event (core.users)"),
        *(
            (f"count_{kind}_{suffix}", "numeric", f"counted {kind}, {span}, all currencies")
            for kind in ("deposits", "withdrawals")
            for suffix, span in _WINDOWS
        ),
        ("count_logins_7d", "bigint", "logins, 7 days ending with the day"),
        ("count_logins_30d", "bigint", "logins, 30 days ending with the day"),
        ("last_deposit_on", "date", "last day with a counted deposit (null: never)"),
        ("days_since_last_deposit", "integer", "days from it to the day"),
        ("last_login_on", "date", "last day with a login (null: never)"),
        ("days_since_last_login", "integer", "days from it to the day"),
        ("level", "text", "level as of the end of the day (core.user_levels; null: none yet)"),
        ("jurisdiction", "text", "jurisdiction of that level"),
    ),
    view=True,
    nullable=(
        "last_deposit_on",
        "days_since_last_deposit",
        "last_login_on",
        "days_since_last_login",
        "level",
        "jurisdiction",
    ),
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
    # daily_user_features: what its check recomputes the segments from, independently.
    deps=(
        "marts/deposit_ordinals",
        "marts/daily_logins",
        "marts/daily_movements",
        "marts/daily_kpis",
        "marts/daily_user_features",
        "core/users",
    ),
    key=("day", "segment", "user_id"),
    checks=(
        Check(
            "reconciles_with_daily_marts",
            "On the run's last day, every segment holds exactly the users that each account's "
            "features as of the day (latest daily_user_features row) and each user's last "
            "login give, each once: another route to the rules than the view's.",
            ("marts/daily_user_features", "marts/daily_logins", "core/users"),
        ),
    ),
    readers=(MARKETING,),
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
    checks=(
        KEYS_UNIQUE,
        COUNTS_NOT_NEGATIVE,
        Check(
            "reconciles_with_daily_marts",
            "Each month's counts and sums equal its daily currency totals, averages are sum / "
            "count, distinct users equal core.transactions' on the month's built days.",
            ("core/transactions",),
        ),
    ),
    readers=(BI,),
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


MARTS = in_build_order(
    with_check_sql(
        (
            DAILY_MOVEMENTS,
            DAILY_BALANCES,
            DAILY_CURRENCY_TOTALS,
            DAILY_LOGINS,
            DAILY_USER_STATUS,
            DEPOSIT_ORDINALS,
            DAILY_KPIS,
            DAILY_USER_FEATURES,
            USER_FEATURES_AS_OF,
            USER_SEGMENTS,
            MONTHLY_CURRENCY_STATS,
        )
    )
)
