"""Snapshot assets: each SPEC 2 file validated and loaded into schema `raw`, all of them and
the core model inside one transaction that `raw/snapshot_loads` commits."""

import time

import dagster as dg
import psycopg
from pydantic import Field

from bitso_platform.metadata import markdown_table
from bitso_platform.progress import progress_message, rows_progress
from bitso_platform.resources.load_transaction import LoadTransaction
from bitso_platform.resources.snapshots import SnapshotSource
from bitso_platform.snapshots.loader import load_snapshot, previous_clean, refusal
from bitso_platform.snapshots.spec import SNAPSHOTS, USERS, Kind, Snapshot
from bitso_platform.snapshots.staging import MAX_LINE_BYTES
from bitso_platform.snapshots.validation import Accounting

CORE = ("users", "transactions", "currencies", "logins", "user_levels")
# Vacuumed after the commit, for their statistics and for index-only scans: core's tables, and
# the events that the view core.logins reads through their index of login days.
TIDIED = (*(("core", table) for table in CORE if table != "logins"), ("raw", "events"))

# Progress is logged at most this often: a line per block would be thousands of run events
# for a large file (a block is 2 MB).
PROGRESS_SECONDS = 1.0


class LoadConfig(dg.Config):
    """Run config of each snapshot asset (`bitso load` sets it)."""

    allow_shrink: bool = Field(
        default=False,
        description="Accept a file with no data rows, or one that shrinks its table by more "
        "than max_shrink (`bitso load --allow-shrink`)",
    )
    max_shrink: float = Field(
        default=0.5, ge=0, le=1, description="Largest accepted share of a table's rows lost"
    )
    max_line_bytes: int = Field(
        default=MAX_LINE_BYTES, gt=0, description="Longer lines are quarantined (oversized_row)"
    )


def _metadata(accounting: Accounting, seconds: float, preview: list[tuple]) -> dict:
    return {
        "dagster/row_count": accounting.clean,
        "source": dg.MetadataValue.path(accounting.source),
        "rows_read": accounting.rows_read,
        "clean": accounting.clean,
        "quarantined": accounting.quarantined_total,
        "quarantined_by_reason": dg.MetadataValue.json(accounting.quarantined),
        "exact_duplicates": accounting.exact_duplicates,
        "blank": accounting.blank,
        "seconds": round(seconds, 3),
        "rows_per_second": round(accounting.rows_read / seconds) if seconds else 0,
        "quarantine_preview": dg.MetadataValue.md(
            markdown_table(preview, ("line", "reason", "raw text"))
        ),
    }


def _preview(conn: psycopg.Connection, snapshot: Snapshot) -> list[tuple]:
    return conn.execute(
        "select line_no, reason, raw_line from raw.quarantine"
        " where snapshot = %s order by line_no limit 10",
        [snapshot.name],
    ).fetchall()


def snapshot_asset(snapshot: Snapshot) -> dg.AssetsDefinition:
    key = dg.AssetKey(["raw", snapshot.name])

    @dg.asset(
        key=key,
        group_name="snapshots",
        deps=[] if snapshot is USERS else [dg.AssetKey(["raw", USERS.name])],
        kinds={"postgres", "duckdb", "csv"},
        description=(
            f"One row per clean line of {snapshot.file}"
            f" ({'required' if snapshot.required else 'optional'} snapshot), typed and trimmed;"
            " rejected lines go to raw.quarantine with a reason. "
            f"Columns: {', '.join(snapshot.header)}."
        ),
    )
    def _load(
        context: dg.AssetExecutionContext,
        config: LoadConfig,
        load: LoadTransaction,
        snapshot_source: SnapshotSource,
    ) -> dg.MaterializeResult:
        source = snapshot_source.uri(snapshot)
        if not snapshot.required and not snapshot_source.has(snapshot):
            context.log.info(f"{source} is absent; raw.{snapshot.name} keeps its previous load")
            return dg.MaterializeResult(metadata={"source": source, "absent": True})
        started = reported = time.perf_counter()

        def report(rows_read: int) -> None:
            text = rows_progress(rows_read, time.perf_counter() - started)
            context.log.info(progress_message(snapshot.file, text))

        def on_block(rows_read: int) -> None:
            nonlocal reported
            now = time.perf_counter()
            if now - reported >= PROGRESS_SECONDS:
                reported = now
                report(rows_read)

        with load.savepoint() as conn, snapshot_source.open(snapshot) as stream:
            before = previous_clean(conn, snapshot)
            accounting = load_snapshot(
                conn,
                stream,
                snapshot,
                source=source,
                max_line_bytes=config.max_line_bytes,
                on_block=on_block,
                users=load.clean_users(source) if snapshot.of_kind(Kind.USER_REF) else None,
            )
            report(accounting.rows_read)
            refused = refusal(accounting, before, max_shrink=config.max_shrink)
            if refused and not config.allow_shrink:
                raise dg.Failure(description=refused)
            preview = _preview(conn, snapshot)
        seconds = time.perf_counter() - started
        context.log.info(f"{snapshot.name}: {accounting.as_json()} in {seconds:.1f}s")
        return dg.MaterializeResult(metadata=_metadata(accounting, seconds, preview))

    return _load


snapshot_assets = [snapshot_asset(s) for s in SNAPSHOTS.values()]


@dg.asset(
    key=["raw", "snapshot_loads"],
    group_name="snapshots",
    kinds={"postgres"},
    deps=[dg.AssetKey(["core", name]) for name in CORE],
)
def snapshot_loads(load: LoadTransaction) -> dg.MaterializeResult:
    """One row per loaded snapshot file: where its lines went. Materializing it commits the
    load, so that every raw and core table of it becomes visible at once (the blocking checks
    of raw and core have passed, or this asset does not run)."""
    with load.savepoint() as conn:
        loads = conn.execute(
            "select snapshot, clean from raw.snapshot_loads"
            " where loaded_at = transaction_timestamp()"
        ).fetchall()
    missing = [s.name for s in SNAPSHOTS.values() if s.required and s.name not in dict(loads)]
    if missing:  # steps that ran in other processes wrote (and rolled back) their own
        raise dg.Failure(
            description=f"this run's transaction holds no load of {', '.join(missing)}: a load "
            "is one transaction, so every snapshot asset must run in this run and process "
            "(the load_snapshots job, in-process executor); nothing was changed"
        )
    load.commit()
    for schema, table in TIDIED:  # Q2/Q3's deposit history scans core.users' key index-only
        load.warehouse.tidy(schema, table)
    return dg.MaterializeResult(metadata={"committed": dg.MetadataValue.json(dict(loads))})
