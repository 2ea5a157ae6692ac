"""Mart checks: keys unique, counts not negative, every figure reconciled with `core`.

Each check runs its section of the mart's SQL file (`-- check: <name>` in
`sql/marts/<table>.sql`), or a shared template (`sql/checks/marts_<name>.sql`) filled with the
mart's names, over the days of its run: one partition, or the whole range of a single-run
backfill. The specs are partitioned, and every day of the run gets an evaluation of its own
(what Dagster's UI lists per partition), with the result of the days it was checked with:
failures are narrowed down to their days.
"""

import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import dagster as dg
import psycopg

# Not re-exported by `dagster`: an evaluation that names its partition must name the
# materialization it checked, or the UI counts it as stale.
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

# Nor is the event a step records, which alone can join a batch of events.
from dagster._core.events import DagsterEvent, DagsterEventBatchMetadata, DagsterEventType
from psycopg import sql

from bitso_platform.defs.marts.assets import asset_key, progress
from bitso_platform.defs.marts.catalog import MARTS, Check, Mart
from bitso_platform.defs.marts.partitions import Window, daily_partitions
from bitso_platform.metadata import check_result, check_row, sql_check
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.sql import load_sql

# Another connection to the warehouse, one transaction: where a check `by_users` checks its
# other ranges of users, side by side with the step's own connection.
Connect = Callable[[], AbstractContextManager[psycopg.Connection]]
EVERY_USER = {"first_user": "", "end_user": None}
# A check `by_users` runs a range per core side by side, at most 8: each holds a connection
# (and its sorts' memory) beside the other steps of the run.
USER_RANGES = min(os.cpu_count() or 1, 8)


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
    conn: psycopg.Connection,
    mart: Mart,
    check: Check,
    window: Window,
    connect: Connect | None = None,
) -> dg.AssetCheckResult:
    """Evaluate one check of a mart over the window; a failed non-blocking check warns.

    A monthly mart is checked over the whole months of the window, a view on its last day.
    Given `connect`, a check `by_users` runs a range of users per core, side by side.
    """
    result = _evaluate(conn, mart, check, window, connect)
    if check.blocking:
        return result
    return dg.AssetCheckResult(
        asset_key=result.asset_key,
        check_name=result.check_name,
        passed=result.passed,
        metadata=result.metadata,
        severity=dg.AssetCheckSeverity.WARN,
    )


def _evaluate(
    conn: psycopg.Connection, mart: Mart, check: Check, window: Window, connect: Connect | None
) -> dg.AssetCheckResult:
    """Run the check's SQL over the mart's window; a template is filled with the mart's names."""
    params = mart.shown(mart.span(window)).params() if check.windowed else None
    identifiers = None
    if check.template:
        query = load_sql(f"checks/marts_{check.name}")
        identifiers = {
            "table": sql.Identifier(mart.table),
            "key": _names(mart.key),
            "period": sql.Identifier(mart.period),
            "counts": _names(mart.counts),
        }
        index = {"table_name": f"marts.{mart.table}", "key_columns": list(mart.key)}
        params = {**(params or {}), **index}
    else:
        query = mart.check_sql()[check.name]
        if check.by_users:
            row = _by_users(conn, connect, query, params or {})
            return check_result(row, asset_key(mart), check.name)
    return sql_check(
        conn,
        query,
        params,
        asset_key=asset_key(mart),
        check_name=check.name,
        identifiers=identifiers,
    )


def _by_users(
    conn: psycopg.Connection, connect: Connect | None, query: str, params: dict[str, Any]
) -> dict[str, Any]:
    """The check's row over every user: with `connect`, one range of users per core side by
    side, the first on `conn`, the others each on a connection of its own; counts added up."""
    ranges = user_ranges(conn, USER_RANGES) if connect else [EVERY_USER]
    if connect is None or len(ranges) == 1:
        return check_row(conn, query, {**params, **ranges[0]})
    with ThreadPoolExecutor(max_workers=len(ranges) - 1) as pool:
        others = [
            pool.submit(_on_own_connection, connect, query, {**params, **users})
            for users in ranges[1:]
        ]
        rows = [check_row(conn, query, {**params, **ranges[0]})]
        rows += [other.result() for other in others]
    return {
        name: all(row[name] for row in rows) if name == "passed" else sum(row[name] for row in rows)
        for name in rows[0]
    }


def _on_own_connection(connect: Connect, query: str, params: dict[str, Any]) -> dict[str, Any]:
    with connect() as conn:
        prepare_session(conn)
        return check_row(conn, query, params)


def user_ranges(conn: psycopg.Connection, parts: int) -> list[dict[str, str | None]]:
    """Up to `parts` ranges of user ids [first_user, end_user) that hold every user between
    them, about equal in users (core.users' row estimate; a range may be empty)."""
    cuts = sorted({cut for (cut,) in conn.execute(load_sql("checks/user_cuts"), {"parts": parts})})
    return [
        {"first_user": first, "end_user": end}
        for first, end in zip(["", *cuts], [*cuts, None], strict=True)
    ]


def _names(columns: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(column) for column in columns)


def run_check_by_period(
    conn: psycopg.Connection,
    mart: Mart,
    check: Check,
    window: Window,
    connect: Connect | None = None,
) -> list[tuple[Window, dg.AssetCheckResult]]:
    """The check over the window, its failures narrowed down to the days (months) they are in.

    A failing window is halved until each failure is pinned to its day (a monthly table's
    month); a failure that neither half shows on its own (a chain across their boundary)
    stays the whole window's. Passing windows cost one evaluation.
    """
    result = run_check(conn, mart, check, window, connect)
    halves = None if result.passed or not check.windowed or mart.view else mart.halves(window)
    if halves is None:
        return [(window, result)]
    parts = [
        part for half in halves for part in run_check_by_period(conn, mart, check, half, connect)
    ]
    if all(result.passed for _, result in parts):
        return [(window, result)]
    return parts


def evaluations(
    conn: psycopg.Connection,
    mart: Mart,
    check: Check,
    window: Window,
    targets: dict[str, AssetCheckEvaluationTargetMaterializationData],
    connect: Connect | None = None,
) -> Iterator[dg.AssetCheckEvaluation]:
    """One evaluation per day of the run, each with the result of the days it was checked with.

    Dagster plans a partitioned check for every day of a range run, and the UI shows a day
    whose planned evaluation never arrived as skipped; an `AssetCheckResult` in a range run
    names no day, so the days are named here, each against its own materialization.
    """
    days = mart.shown(window)
    for checked, result in run_check_by_period(conn, mart, check, window, connect):
        scope = checked if check.windowed else days
        checked_over = scope if check.windowed else "all built days"
        for day in scope.each_day():
            if days.start <= day < days.end:
                yield dg.AssetCheckEvaluation(
                    asset_key=asset_key(mart),
                    check_name=check.name,
                    passed=result.passed,
                    metadata={**result.metadata, "checked_over": str(checked_over)},
                    target_materialization_data=targets.get(day.isoformat()),
                    severity=result.severity,
                    blocking=check.blocking,
                    partition=day.isoformat(),
                )


def recorded(
    context: dg.AssetCheckExecutionContext, results: list[dg.AssetCheckEvaluation]
) -> Iterator[dg.AssetCheckEvaluation | DagsterEvent]:
    """The step's evaluations, the passing ones recorded as one batch of events.

    A yielded evaluation is an event of its own (an insert and an update apiece: ~70,000 in a
    backfill of every day); a batch goes to the storage at once, which writes it in two
    statements (bitso_platform/dagster_storage.py). Failures are yielded: Dagster logs them
    as such and fails the step on a blocking one.
    """
    passing = [result for result in results if result.passed]
    step = context.op_execution_context.get_step_execution_context()
    batch = uuid.uuid4().hex
    for i, evaluation in enumerate(passing):
        yield DagsterEvent.from_step(
            DagsterEventType.ASSET_CHECK_EVALUATION,
            step,
            evaluation,
            message=f"Asset check '{evaluation.check_name}' on "
            f"'{evaluation.asset_key.to_user_string()}' passed.",
            batch_metadata=DagsterEventBatchMetadata(batch, is_end=i == len(passing) - 1),
        )
    yield from (result for result in results if not result.passed)


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


def outcome(check: Check, results: list[dg.AssetCheckEvaluation]) -> str:
    """passed; FAILED on the days it failed; a non-blocking check warned, and says why."""
    failed = [result for result in results if not result.passed]
    if not failed:
        return "passed"
    days = f"on {len(failed):,} of {len(results):,} days"
    if check.blocking:
        return f"FAILED {days}"
    columns = {name: value.value for name, value in failed[-1].metadata.items()}
    return f"warned {days}: {check.warning.format(**columns)}"


def mart_checks(mart: Mart, partitions: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    checks = {dg.AssetCheckKey(asset_key(mart), check.name): check for check in mart.checks}
    specs = [
        dg.AssetCheckSpec(
            check.name,
            asset=asset_key(mart),
            description=check.description,
            additional_deps=[dg.AssetKey(read.split("/")) for read in check.reads],
            blocking=check.blocking,
            partitions_def=partitions,
        )
        for check in checks.values()
    ]

    @dg.multi_asset_check(specs=specs, name=f"{mart.table}_checks", can_subset=True)
    def _checks(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse
    ) -> Iterator[dg.Output | dg.AssetCheckEvaluation | DagsterEvent]:
        window = Window.of(context)
        assets_def = context.op_execution_context.assets_def
        days = mart.shown(window)
        targets = latest_materializations(context.instance, asset_key(mart), days)
        with warehouse.connection() as conn:
            prepare_session(conn)
            for key, check in checks.items():
                if key not in context.selected_asset_check_keys:
                    continue
                results = list(
                    evaluations(conn, mart, check, window, targets, warehouse.connection)
                )
                scope = window if check.windowed else "all built days"
                message = f"check {mart.table}.{check.name} over {scope}: {outcome(check, results)}"
                context.log.info(message)
                progress.info(message)
                yield dg.Output(
                    None, output_name=assets_def.get_output_name_for_asset_check_key(key)
                )
                yield from recorded(context, results)

    return _checks


@dg.definitions
def mart_asset_checks() -> dg.Definitions:
    partitions = daily_partitions()
    return dg.Definitions(
        asset_checks=[mart_checks(mart, partitions) for mart in MARTS if mart.checks]
    )
