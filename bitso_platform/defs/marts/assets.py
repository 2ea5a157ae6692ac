"""Mart assets: daily-partitioned rollups of `core` that answer the eight questions fast.

Each mart rebuilds the days of its run (one partition, or a backfill's whole range) in one
transaction: `sql/marts/<table>.sql` deletes the window's rows and inserts them again with
set-based SQL over the window. A backfill of any range is a single run
(`BackfillPolicy.single_run()`), never a loop over days.
"""

import logging
import time
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import psycopg
from psycopg import sql

from bitso_platform.defs.marts.partitions import Window, daily_partitions
from bitso_platform.metadata import markdown_table
from bitso_platform.resources.warehouse import Warehouse

# `bitso build` listens to this logger to show progress while the run executes in-process;
# context.log feeds the run's event log in the Dagster UI.
progress = logging.getLogger("bitso_platform.marts")

# The daily schedule builds yesterday at 01:00 UTC; a mart not materialized between 00:30
# and 03:00 UTC is late.
FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 3 * * *", lower_bound_delta=timedelta(hours=2, minutes=30)
)


@dataclass(frozen=True)
class Mart:
    """A table of schema `marts`: what it holds, what it reads, its key and columns."""

    table: str
    description: str
    deps: tuple[str, ...]
    key: tuple[str, ...]
    columns: tuple[tuple[str, str, str], ...]  # name, Postgres type, meaning
    period: str = "day"  # the time column: "day", or "month" for a monthly table
    view: bool = False  # a view computed when read: a run (re)creates it
    running: bool = False  # carries state from the day before (balances, counts to date)
    nullable: tuple[str, ...] = ("previous_login_at",)

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey(["marts", self.table])

    def asset_deps(self) -> list[dg.AssetDep]:
        """What it reads; a running mart also reads its own previous day."""
        deps = [dg.AssetDep(dg.AssetKey(dep.split("/"))) for dep in self.deps]
        if self.running:
            previous_day = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
            deps.append(dg.AssetDep(self.asset_key, partition_mapping=previous_day))
        return deps

    def span(self, window: Window) -> Window:
        """The rows a run over the window rebuilds: whole months for a monthly table."""
        if self.period == "month":
            return Window(window.start.replace(day=1), window.end)
        return window

    def halves(self, window: Window) -> tuple[Window, Window] | None:
        """The window split in two at a day (a month for a monthly table), if it has two."""
        middle = window.start + timedelta(days=window.days // 2)
        if self.period == "month":
            middle = middle.replace(day=1)
            if middle <= window.start:
                middle = (middle + timedelta(days=31)).replace(day=1)
        if not window.start < middle < window.end:
            return None
        return Window(window.start, middle), Window(middle, window.end)

    def shown(self, window: Window) -> Window:
        """The days a run reports on: a view's last day only (a view holds every day)."""
        return Window(window.last, window.end) if self.view else window

    def column_schema(self) -> dg.TableSchema:
        return dg.TableSchema(
            columns=[
                dg.TableColumn(
                    name,
                    data_type,
                    description=meaning,
                    constraints=dg.TableColumnConstraints(nullable=name in self.nullable),
                )
                for name, data_type, meaning in self.columns
            ]
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
    columns=(
        _DAY,
        _USER,
        ("count_logins", "integer", "login events on the day"),
        ("first_login_at", "timestamp with time zone", "first login of the day"),
        ("last_login_at", "timestamp with time zone", "last login as of the end of the day"),
        ("previous_login_at", "timestamp with time zone", "last login before the day, if any"),
        ("count_logins_to_date", "bigint", "login events on or before the day"),
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

# In dependency order: a run materializes them in this order.
MARTS = (
    DAILY_MOVEMENTS,
    DAILY_BALANCES,
    DAILY_CURRENCY_TOTALS,
    DAILY_LOGINS,
    DAILY_USER_STATUS,
    DEPOSIT_ORDINALS,
    DAILY_KPIS,
)


def rebuild(warehouse: Warehouse, mart: Mart, window: Window) -> dict[date, int] | None:
    """Replace the window's rows of the mart in one transaction; its rows per day (or month).

    A view is (re)created instead, and not counted: counting evaluates it. Either way the
    transaction records itself in marts.refreshes.
    """
    window = mart.span(window)
    warehouse.ensure("marts/refreshes")
    with warehouse.connection() as conn:
        warehouse.run_sql(conn, "marts/record_refresh", {"mart": mart.table, **window.params()})
        if mart.view:
            warehouse.run_sql(conn, f"marts/{mart.table}")
            return None
        if _window_holds_every_row(conn, mart, window):
            _empty_without_indexes(conn, mart)
        warehouse.run_sql(conn, f"marts/{mart.table}", window.params())
        return _count_by_period(conn, mart, window)


def tidy(warehouse: Warehouse, mart: Mart, window: Window) -> None:
    """After a backfill (committed), refresh statistics and the visibility map.

    A backfill rewrites enough rows to mislead the planner, and the questions' index-only
    scans need the pages marked all-visible; the daily trickle is left to autovacuum.
    """
    if window.days > 1 and not mart.view:
        warehouse.tidy("marts", mart.table)


def _window_holds_every_row(conn: psycopg.Connection, mart: Mart, window: Window) -> bool:
    """Whether the table exists and has no row outside the window (a full rebuild)."""
    exists = conn.execute("select to_regclass(%s) is not null", [f"marts.{mart.table}"]).fetchone()
    if not exists or not exists[0]:
        return False
    outside = conn.execute(
        sql.SQL(
            "select exists (select from {} where {period} < %(window_start)s"
            " or {period} >= %(window_end)s)"
        ).format(sql.Identifier("marts", mart.table), period=sql.Identifier(mart.period)),
        window.params(),
    ).fetchone()
    return bool(outside) and not outside[0]


def _empty_without_indexes(conn: psycopg.Connection, mart: Mart) -> None:
    """Empty the table and drop its indexes; the mart's SQL builds them again at the end.

    Maintaining large indexes row by row costs several times more than building them once,
    sorted, after the insert. Truncating (rather than deleting) also lets the opening-state
    lookups of the insert find an empty table instead of scanning dead rows without an index.
    Everything stays inside the caller's transaction; readers wait for its commit.
    """
    conn.execute(sql.SQL("truncate {}").format(sql.Identifier("marts", mart.table)))
    indexes = conn.execute(
        "select indexname from pg_indexes where schemaname = 'marts' and tablename = %s",
        [mart.table],
    ).fetchall()
    for (index,) in indexes:
        conn.execute(sql.SQL("drop index {}").format(sql.Identifier("marts", index)))


def _count_by_period(conn: psycopg.Connection, mart: Mart, window: Window) -> dict[date, int]:
    query = sql.SQL(
        "select {period}, count(*) from {} where {period} >= %(window_start)s"
        " and {period} < %(window_end)s group by {period}"
    ).format(sql.Identifier("marts", mart.table), period=sql.Identifier(mart.period))
    return dict(conn.execute(query, window.params()).fetchall())


def _preview(conn: psycopg.Connection, mart: Mart, window: Window) -> dg.MetadataValue:
    """Five rows of the run's last day (last month of a monthly table)."""
    last = mart.span(Window(window.last, window.end))
    preview = conn.execute(
        sql.SQL(
            "select * from {} where {period} >= %(window_start)s and {period} < %(window_end)s"
            " limit 5"
        ).format(sql.Identifier("marts", mart.table), period=sql.Identifier(mart.period)),
        last.params(),
    ).fetchall()
    return dg.MetadataValue.md(markdown_table(preview, tuple(name for name, _, _ in mart.columns)))


def partition_metadata(
    mart: Mart, window: Window, rows: dict[date, int] | None
) -> dict[str, dict[str, object]]:
    """What each day of the run says about itself: its own rows, never the run's total.

    A monthly table's rows belong to months, so a day gives its month's count by that name; a
    view stores no rows.
    """
    if rows is None:
        return {}
    if mart.period == "month":
        return {
            day.isoformat(): {
                "month": day.replace(day=1).isoformat(),
                "month_row_count": rows.get(day.replace(day=1), 0),
            }
            for day in window.each_day()
        }
    return {day.isoformat(): {"dagster/row_count": rows.get(day, 0)} for day in window.each_day()}


def mart_asset(mart: Mart, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=mart.asset_key,
        group_name="marts",
        kinds={"postgres"},
        deps=mart.asset_deps(),
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        freshness_policy=FRESHNESS,
        description=mart.description,
        metadata={
            "dagster/column_schema": mart.column_schema(),
            "dagster/table_name": f"marts.{mart.table}",
            "key": ", ".join(mart.key),
            "sql": f"sql/marts/{mart.table}.sql",
        },
    )
    def _mart(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        window = Window.of(context)
        started = time.perf_counter()
        rows = rebuild(warehouse, mart, window)
        tidy(warehouse, mart, window)
        seconds = time.perf_counter() - started
        # Metadata without a partition key is copied onto every day of a range run: there
        # only what is true of each day (the run it was built in), counts per day below.
        for day, metadata in partition_metadata(mart, window, rows).items():
            context.add_asset_metadata(metadata, partition_key=day)
        with warehouse.connection() as conn:
            context.add_asset_metadata(
                {"preview": _preview(conn, mart, window)}, partition_key=window.last.isoformat()
            )
        written = "a view" if rows is None else f"{sum(rows.values()):,} rows"
        message = f"marts/{mart.table}: {written} for {window} in {seconds:.2f}s"
        context.log.info(message)
        progress.info(message)
        return dg.MaterializeResult(
            metadata={"run_window": str(window), "run_seconds": round(seconds, 3)}
        )

    return _mart


def mart_assets() -> list[dg.AssetsDefinition]:
    partitions = daily_partitions()
    return [mart_asset(mart, partitions) for mart in MARTS]


@dg.definitions
def marts() -> dg.Definitions:
    return dg.Definitions(assets=mart_assets())
