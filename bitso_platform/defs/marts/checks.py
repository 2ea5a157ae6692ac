"""Mart checks: keys unique, counts not negative, every figure reconciled with `core`.

Each check runs `sql/checks/marts_<table>_<check>.sql` over the days of its run: one
partition, or the whole range of a single-run backfill. The specs are partitioned, and every
day of the run gets an evaluation of its own (what Dagster's UI lists per partition), with the
result of the days it was checked with: failures are narrowed down to their days.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import psycopg

# Not re-exported by `dagster`: an evaluation that names its partition must name the
# materialization it checked, or the UI counts it as stale.
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from psycopg import sql

from bitso_platform.defs.marts.assets import (
    DAILY_BALANCES,
    DAILY_CURRENCY_TOTALS,
    DAILY_KPIS,
    DAILY_LOGINS,
    DAILY_MOVEMENTS,
    DAILY_USER_STATUS,
    DEPOSIT_ORDINALS,
    MARTS,
    Mart,
    progress,
)
from bitso_platform.defs.marts.features import (
    DAILY_USER_FEATURES,
    FEATURE_MARTS,
    MONTHLY_CURRENCY_STATS,
    USER_SEGMENTS,
)
from bitso_platform.defs.marts.partitions import Window, daily_partitions
from bitso_platform.metadata import sql_check
from bitso_platform.resources.warehouse import Warehouse

TRANSACTIONS = dg.AssetKey(["core", "transactions"])
LOGINS = dg.AssetKey(["core", "logins"])
USERS = dg.AssetKey(["core", "users"])


def _marts(*tables: str) -> tuple[dg.AssetKey, ...]:
    return tuple(dg.AssetKey(["marts", table]) for table in tables)


@dataclass(frozen=True)
class Check:
    """One named predicate over a mart's window, run from its SQL file.

    A template (`sql/checks/marts_<name>.sql`) serves every mart: it names the mart's table,
    key and time column as `{placeholders}` and reads its key index as parameters.
    """

    name: str
    description: str
    reads: tuple[dg.AssetKey, ...] = ()
    blocking: bool = True
    windowed: bool = True
    template: bool = False

    def sql_name(self, mart: Mart) -> str:
        return f"marts_{self.name}" if self.template else f"marts_{mart.table}_{self.name}"

    def run(self, conn: psycopg.Connection, mart: Mart, window: Window) -> dg.AssetCheckResult:
        params = mart.shown(mart.span(window)).params() if self.windowed else None
        identifiers = None
        if self.template:
            identifiers = {
                "table": sql.Identifier(mart.table),
                "key": sql.SQL(", ").join(sql.Identifier(column) for column in mart.key),
                "period": sql.Identifier(mart.period),
            }
            index = {"key_index": f"marts.{mart.table}_key", "key_columns": sorted(mart.key)}
            params = {**(params or {}), **index}
        return sql_check(
            conn,
            self.sql_name(mart),
            params,
            asset_key=mart.asset_key,
            check_name=self.name,
            identifiers=identifiers,
        )


KEYS_UNIQUE = Check(
    "keys_unique",
    "At most one row per key: the unique index enforces it; without it, the window is counted.",
    template=True,
)
COUNTS_NOT_NEGATIVE = Check("counts_not_negative", "No count_ column is negative in the window.")
WINDOWS_NEST = Check(
    "windows_nest", "Every row's windows nest: 0 <= 7 days <= 30 days <= 90 days <= to date."
)
NO_FUTURE_INFORMATION = Check(
    "no_future_information",
    "Nothing dated after a row's day: last days on or before it, no row before the user's "
    "first-seen day.",
    (USERS,),
)

CHECKS: dict[Mart, tuple[Check, ...]] = {
    DAILY_MOVEMENTS: (
        KEYS_UNIQUE,
        COUNTS_NOT_NEGATIVE,
        Check(
            "reconciles_with_core",
            "Each day's counted and failed counts and amounts equal core.transactions' grouped "
            "by kind and status (the mart's columns unpivoted to match); no empty rows.",
            (TRANSACTIONS,),
        ),
    ),
    DAILY_BALANCES: (
        KEYS_UNIQUE,
        Check(
            "equal_sum_of_movements",
            "Each running balance equals counted deposits minus counted withdrawals of its "
            "user and currency in core.transactions up to the end of its day.",
            (TRANSACTIONS,),
        ),
    ),
    DAILY_CURRENCY_TOTALS: (
        KEYS_UNIQUE,
        COUNTS_NOT_NEGATIVE,
        Check(
            "reconciles_with_core",
            "Each currency and day's counts, amounts and distinct users equal a direct "
            "aggregation of core.transactions.",
            (TRANSACTIONS,),
        ),
    ),
    DAILY_LOGINS: (
        KEYS_UNIQUE,
        COUNTS_NOT_NEGATIVE,
        Check(
            "reconciles_with_core",
            "Each day's logins, first and last login equal core.logins'.",
            (LOGINS,),
        ),
    ),
    DAILY_USER_STATUS: (
        KEYS_UNIQUE,
        COUNTS_NOT_NEGATIVE,
        Check(
            "reconciles_with_core",
            "One ACTIVE row per user with a counted movement each day; counts to date chain "
            "from row to row and match core.transactions before and at the end of the window.",
            (TRANSACTIONS,),
        ),
    ),
    DEPOSIT_ORDINALS: (
        KEYS_UNIQUE,
        Check(
            "reconciles_with_core",
            "One row per counted deposit each day, each user's numbered on from the deposits "
            "before the window.",
            (TRANSACTIONS,),
        ),
    ),
    DAILY_KPIS: (
        KEYS_UNIQUE,
        COUNTS_NOT_NEGATIVE,
        Check(
            "reconciles_with_core",
            "One row per day; every count, distinct-user figure and amount per currency "
            "equals a recomputation from core, first depositors marts.deposit_ordinals'.",
            (TRANSACTIONS, LOGINS, USERS, *_marts("deposit_ordinals")),
        ),
        Check(
            "cover_fact_days",
            "Every day from the first to the last transaction or login is built, and none "
            "falls before the first partition. Looks at the whole table; warns.",
            (TRANSACTIONS, LOGINS),
            blocking=False,
            windowed=False,
        ),
    ),
    DAILY_USER_FEATURES: (
        KEYS_UNIQUE,
        WINDOWS_NEST,
        NO_FUTURE_INFORMATION,
        Check(
            "reconciles_with_daily_marts",
            "Every row's windows equal the daily_movements rows dated within them (so none "
            "after the row's day), and a row exists wherever a movement enters or leaves a "
            "window.",
            _marts("daily_movements"),
        ),
    ),
    USER_SEGMENTS: (
        Check(
            "reconciles_with_daily_marts",
            "On the run's last day, every segment holds exactly the users that each account's "
            "features as of the day (latest daily_user_features row) and each user's last login "
            "give, each once: another route to the rules than the view's.",
            (*_marts("daily_user_features", "daily_logins"), USERS),
        ),
    ),
    MONTHLY_CURRENCY_STATS: (
        KEYS_UNIQUE,
        COUNTS_NOT_NEGATIVE,
        Check(
            "reconciles_with_daily_marts",
            "Each month's counts and sums equal its daily currency totals, averages are sum / "
            "count, distinct users equal core.transactions' on the month's built days.",
            (TRANSACTIONS,),
        ),
    ),
}


def prepare_session(conn: psycopg.Connection) -> None:
    """Session settings for checks over a whole backfill range.

    The key checks plan a full count of the window they skip while the unique index holds;
    JIT-compiling that never-run branch would cost more than every check together. Parallel
    workers would each build the same large hash tables of a reconciliation: one process
    builds them once, and the cores stay free for the run's other work.
    """
    conn.execute("set local jit = off")
    conn.execute("set local work_mem = '256MB'")
    conn.execute("set local max_parallel_workers_per_gather = 0")


def run_check(
    conn: psycopg.Connection, mart: Mart, check: Check, window: Window
) -> dg.AssetCheckResult:
    """Evaluate one check of a mart over the window; a failed non-blocking check warns.

    A monthly mart is checked over the whole months of the window, a view on its last day.
    """
    result = check.run(conn, mart, window)
    if check.blocking:
        return result
    return dg.AssetCheckResult(
        asset_key=result.asset_key,
        check_name=result.check_name,
        passed=result.passed,
        metadata=result.metadata,
        severity=dg.AssetCheckSeverity.WARN,
    )


def run_check_by_period(
    conn: psycopg.Connection, mart: Mart, check: Check, window: Window
) -> list[tuple[Window, dg.AssetCheckResult]]:
    """The check over the window, its failures narrowed down to the days (months) they are in.

    A failing window is halved until each failure is pinned to its day (a monthly table's
    month); a failure that neither half shows on its own (a chain across their boundary)
    stays the whole window's. Passing windows cost one evaluation.
    """
    result = run_check(conn, mart, check, window)
    halves = None if result.passed or not check.windowed or mart.view else mart.halves(window)
    if halves is None:
        return [(window, result)]
    parts = [part for half in halves for part in run_check_by_period(conn, mart, check, half)]
    if all(result.passed for _, result in parts):
        return [(window, result)]
    return parts


def evaluations(
    context: dg.AssetCheckExecutionContext,
    conn: psycopg.Connection,
    mart: Mart,
    check: Check,
    window: Window,
) -> Iterator[dg.AssetCheckEvaluation]:
    """One evaluation per day of the run, each with the result of the days it was checked with.

    Dagster plans a partitioned check for every day of a range run, and the UI shows a day
    whose planned evaluation never arrived as skipped; an `AssetCheckResult` in a range run
    names no day, so the days are named here, each against its own materialization.
    """
    days = Window(window.last, window.end) if mart.view else window
    targets = latest_materializations(context.instance, mart.asset_key, days)
    for checked, result in run_check_by_period(conn, mart, check, window):
        scope = checked if check.windowed else days
        checked_over = scope if check.windowed else "all built days"
        for day in scope.each_day():
            if days.start <= day < days.end:
                yield dg.AssetCheckEvaluation(
                    asset_key=mart.asset_key,
                    check_name=check.name,
                    passed=result.passed,
                    metadata={**result.metadata, "checked_over": str(checked_over)},
                    target_materialization_data=targets.get(day.isoformat()),
                    severity=result.severity,
                    blocking=check.blocking,
                    partition=day.isoformat(),
                )


def latest_materializations(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, days: Window
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """Each day's latest materialization: what an evaluation of that day is current for."""
    partitions = {day.isoformat() for day in days.each_day()}
    latest = instance.event_log_storage.get_latest_storage_id_by_partition(
        asset_key, dg.DagsterEventType.ASSET_MATERIALIZATION, partitions
    )
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, storage_ids=list(latest.values())),
        limit=max(len(latest), 1),
    ).records
    return {
        record.partition_key: AssetCheckEvaluationTargetMaterializationData(
            storage_id=record.storage_id,
            run_id=record.run_id,
            timestamp=record.timestamp,
        )
        for record in records
        if record.partition_key
    }


def mart_checks(mart: Mart, partitions: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    checks = {dg.AssetCheckKey(mart.asset_key, check.name): check for check in CHECKS[mart]}
    specs = [
        dg.AssetCheckSpec(
            check.name,
            asset=mart.asset_key,
            description=check.description,
            additional_deps=check.reads,
            blocking=check.blocking,
            partitions_def=partitions,
        )
        for check in checks.values()
    ]

    @dg.multi_asset_check(specs=specs, name=f"{mart.table}_checks", can_subset=True)
    def _checks(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse
    ) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
        window = Window.of(context)
        assets_def = context.op_execution_context.assets_def
        with warehouse.connection() as conn:
            prepare_session(conn)
            for key, check in checks.items():
                if key not in context.selected_asset_check_keys:
                    continue
                results = list(evaluations(context, conn, mart, check, window))
                failed = sum(not result.passed for result in results)
                outcome = f"FAILED on {failed:,} of {len(results):,} days" if failed else "passed"
                scope = window if check.windowed else "all built days"
                message = f"check {mart.table}.{check.name} over {scope}: {outcome}"
                context.log.info(message)
                progress.info(message)
                yield dg.Output(
                    None, output_name=assets_def.get_output_name_for_asset_check_key(key)
                )
                yield from results

    return _checks


@dg.definitions
def mart_asset_checks() -> dg.Definitions:
    partitions = daily_partitions()
    return dg.Definitions(
        asset_checks=[mart_checks(mart, partitions) for mart in (*MARTS, *FEATURE_MARTS)]
    )
