"""Snapshot assets: each SPEC 2 file validated and loaded into schema `raw`."""

import time
from collections.abc import Iterator

import dagster as dg

from bitso_platform.metadata import markdown_table
from bitso_platform.resources.snapshots import SnapshotSource
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.snapshots.loader import RAW_DDL, load_snapshot
from bitso_platform.snapshots.spec import SNAPSHOTS, USERS, Snapshot
from bitso_platform.snapshots.validation import Accounting


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


def snapshot_asset(snapshot: Snapshot) -> dg.AssetsDefinition:
    key = dg.AssetKey(["raw", snapshot.name])

    @dg.asset(
        key=key,
        group_name="snapshots",
        deps=[] if snapshot is USERS else [dg.AssetKey(["raw", USERS.name])],
        kinds={"postgres", "duckdb", "csv"},
        output_required=snapshot.required,
        description=(
            f"One row per clean line of {snapshot.file}"
            f" ({'required' if snapshot.required else 'optional'} snapshot), typed and trimmed;"
            " rejected lines go to raw.quarantine with a reason. "
            f"Columns: {', '.join(snapshot.header)}."
        ),
    )
    def _load(
        context: dg.AssetExecutionContext,
        warehouse: Warehouse,
        snapshot_source: SnapshotSource,
    ) -> Iterator[dg.MaterializeResult]:
        if not snapshot.required and not snapshot_source.has(snapshot):
            context.log.info(
                f"{snapshot_source.uri(snapshot)} is absent; the optional {snapshot.name} "
                "snapshot keeps its previous load"
            )
            return
        started = time.perf_counter()
        warehouse.ensure(*RAW_DDL)
        with warehouse.connection() as conn, snapshot_source.open(snapshot) as stream:
            accounting = load_snapshot(conn, stream, snapshot, source=snapshot_source.uri(snapshot))
            preview = conn.execute(
                "select line_no, reason, raw_line from raw.quarantine"
                " where snapshot = %s order by line_no limit 10",
                [snapshot.name],
            ).fetchall()
        seconds = time.perf_counter() - started
        context.log.info(f"{snapshot.name}: {accounting.as_json()} in {seconds:.1f}s")
        yield dg.MaterializeResult(
            metadata=_metadata(accounting, seconds, preview),
        )

    return _load


snapshot_assets = [snapshot_asset(s) for s in SNAPSHOTS.values()]
