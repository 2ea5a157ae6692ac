"""Snapshot checks: every line of every file is accounted for, and stored as accounted."""

import dagster as dg

from bitso_platform.resources.load_transaction import LoadTransaction
from bitso_platform.snapshots.loader import reconcile
from bitso_platform.snapshots.spec import SNAPSHOTS, Snapshot


def rows_reconcile_check(snapshot: Snapshot) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["raw", snapshot.name]),
        name="rows_reconcile",
        blocking=True,
        description="rows_read = clean + quarantined + exact_duplicates + blank for the load "
        "being made, and the raw and quarantine tables hold exactly those rows",
    )
    def _check(load: LoadTransaction) -> dg.AssetCheckResult:
        with load.savepoint() as conn:
            outcome = reconcile(conn, snapshot)
        return dg.AssetCheckResult(
            passed=bool(outcome.pop("passed")),
            metadata={
                key: dg.MetadataValue.json(value) if isinstance(value, dict) else value
                for key, value in outcome.items()
            },
        )

    return _check


rows_reconcile_checks = [rows_reconcile_check(s) for s in SNAPSHOTS.values()]
