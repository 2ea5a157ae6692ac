"""Mart assets: daily-partitioned rollups of `core` that answer the eight questions fast.

One asset per mart declared in `catalog.py`. Each rebuilds the days of its run (one
partition, or a backfill's whole range) in one transaction: the window's rows are deleted,
then `sql/marts/<table>.sql` inserts them again with set-based SQL over the window. A
backfill of any range is a single run (`BackfillPolicy.single_run()`), never a loop over
days. Dagster orders the assets by their declared deps.
"""

import logging
import time
from datetime import date, timedelta

import dagster as dg
import psycopg
from psycopg import sql

from bitso_platform.defs.marts.catalog import MARTS, Mart
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


def asset_key(mart: Mart) -> dg.AssetKey:
    return dg.AssetKey(mart.asset.split("/"))


def asset_deps(mart: Mart) -> list[dg.AssetDep]:
    """What it reads; a running mart also reads its own previous day."""
    deps = [dg.AssetDep(dg.AssetKey(dep.split("/"))) for dep in mart.deps]
    if mart.running:
        previous_day = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
        deps.append(dg.AssetDep(asset_key(mart), partition_mapping=previous_day))
    return deps


def column_schema(mart: Mart) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name,
                data_type,
                description=meaning,
                constraints=dg.TableColumnConstraints(nullable=name in mart.nullable),
            )
            for name, data_type, meaning in mart.columns
        ]
    )


def rebuild(warehouse: Warehouse, mart: Mart, window: Window) -> None:
    """Replace the window's rows of the mart in one transaction.

    The mart's SQL creates its table if missing and inserts the window's rows, which are
    removed first here. A view is (re)created instead. Either way the transaction records
    itself in marts.refreshes.
    """
    window = mart.span(window)
    warehouse.ensure("marts/refreshes")  # and the schema
    with warehouse.connection() as conn:
        warehouse.run_sql(conn, "marts/record_refresh", {"mart": mart.table, **window.params()})
        rebuild_session(warehouse, conn, mart)
        if mart.view:
            warehouse.run_sql(conn, mart.sql_file)
            return
        _clear(conn, mart, window)
        warehouse.run_sql(conn, mart.sql_file, window.params())


def rebuild_session(warehouse: Warehouse, conn: psycopg.Connection, mart: Mart) -> None:
    """The settings of a mart's rebuild transaction (sql/marts/session.sql); a mart of few
    groups hashes them: at scale 100 daily_kpis sorted 41 M rows for 1,331 groups, 29-37 s
    against 7 s hashed (docs/benchmarks.md, "Marts grouped by day hash their groups")."""
    warehouse.run_sql(conn, "marts/session")
    if mart.few_groups:
        conn.execute("set local enable_hashagg = on")


def tidy(warehouse: Warehouse, mart: Mart, window: Window) -> None:
    """After a backfill (committed), refresh statistics and the visibility map.

    A backfill rewrites enough rows to mislead the planner, and the questions' index-only
    scans need the pages marked all-visible; the daily trickle is left to autovacuum.
    """
    if window.days > 1 and not mart.view:
        warehouse.tidy("marts", mart.table)


def _clear(conn: psycopg.Connection, mart: Mart, window: Window) -> None:
    """Remove the window's rows, if the table exists; all of them at once if that is all."""
    exists = conn.execute("select to_regclass(%s) is not null", [f"marts.{mart.table}"]).fetchone()
    if not exists or not exists[0]:
        return
    table, period = sql.Identifier("marts", mart.table), sql.Identifier(mart.period)
    outside = conn.execute(
        sql.SQL(
            "select exists (select from {} where {period} < %(window_start)s"
            " or {period} >= %(window_end)s)"
        ).format(table, period=period),
        window.params(),
    ).fetchone()
    if outside and not outside[0]:
        _empty_without_indexes(conn, mart)
        return
    conn.execute(
        sql.SQL(
            "delete from {} where {period} >= %(window_start)s and {period} < %(window_end)s"
        ).format(table, period=period),
        window.params(),
    )


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
    """The mart's rows per day (or month) of the window, once its run is committed and tidied.

    After a backfill's vacuum this is an index-only scan of the day index; inside the rebuild's
    transaction it read the new heap instead, 6-17 s per mart at scale 100 (docs/benchmarks.md).
    """
    window = mart.span(window)
    query = sql.SQL(
        "select {period}, count(*) from {} where {period} >= %(window_start)s"
        " and {period} < %(window_end)s group by {period}"
    ).format(sql.Identifier("marts", mart.table), period=sql.Identifier(mart.period))
    return dict(conn.execute(query, window.params()).fetchall())


def preview_query(mart: Mart, window: Window) -> tuple[sql.Composed, dict[str, date]]:
    """Five rows of the window's last day (last month of a monthly table), and its parameters."""
    last = mart.span(Window(window.last, window.end))
    query = sql.SQL(
        "select * from {} where {period} >= %(window_start)s and {period} < %(window_end)s limit 5"
    ).format(sql.Identifier("marts", mart.table), period=sql.Identifier(mart.period))
    return query, last.params()


def plan_for_first_rows(conn: psycopg.Connection, mart: Mart) -> None:
    """A view's preview is planned as the whole view otherwise: the segments' five rows hashed
    every first deposit first (0.4-1.3 s at scale 100); probing joins find them in
    milliseconds. For the rest of the caller's transaction."""
    if mart.view:
        conn.execute("set local enable_hashjoin = off")
        conn.execute("set local enable_mergejoin = off")


def _preview(conn: psycopg.Connection, mart: Mart, window: Window) -> dg.MetadataValue:
    """Five rows of the run's last day (last month of a monthly table), as a table."""
    plan_for_first_rows(conn, mart)
    preview = conn.execute(*preview_query(mart, window)).fetchall()
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
        key=asset_key(mart),
        group_name="marts",
        kinds={"postgres"},
        deps=asset_deps(mart),
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        freshness_policy=FRESHNESS,
        description=mart.description,
        metadata={
            "dagster/column_schema": column_schema(mart),
            "dagster/table_name": f"marts.{mart.table}",
            "key": ", ".join(mart.key),
            "sql": f"sql/marts/{mart.table}.sql",
        },
    )
    def _mart(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        window = Window.of(context)
        started = time.perf_counter()
        rebuild(warehouse, mart, window)
        tidy(warehouse, mart, window)
        seconds = time.perf_counter() - started
        with warehouse.connection() as conn:
            # A view is not counted: counting evaluates it.
            rows = None if mart.view else _count_by_period(conn, mart, window)
            context.add_asset_metadata(
                {"preview": _preview(conn, mart, window)}, partition_key=window.last.isoformat()
            )
        # Metadata without a partition key is copied onto every day of a range run: there
        # only what is true of each day (the run it was built in), counts per day above.
        for day, metadata in partition_metadata(mart, window, rows).items():
            context.add_asset_metadata(metadata, partition_key=day)
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
