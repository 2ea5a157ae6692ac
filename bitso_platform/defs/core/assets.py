"""Core model assets: typed, keyed, indexed facts and dimensions built from `raw`."""

import dagster as dg

from bitso_platform.metadata import table_metadata
from bitso_platform.resources.model import ModelSettings
from bitso_platform.resources.warehouse import Warehouse


def _raw(*names: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(["raw", name]) for name in names]


def _build(warehouse: Warehouse, table: str, params: dict | None = None) -> dg.MaterializeResult:
    """Rebuild core.<table> from its SQL file in one transaction; describe the result."""
    warehouse.ensure("core/schema")
    with warehouse.connection() as conn:
        warehouse.run_sql(conn, f"core/{table}", params)
        metadata = table_metadata(conn, "core", table)
    warehouse.tidy("core", table)  # Q2/Q3's deposit history scans core.users' key index-only
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=["core", "users"],
    group_name="core",
    kinds={"postgres"},
    deps=_raw("users", "deposits", "withdrawals", "events"),
)
def users(warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per clean user of the users snapshot, with the first UTC day of activity."""
    return _build(warehouse, "users")


@dg.asset(
    key=["core", "transactions"],
    group_name="core",
    kinds={"postgres"},
    deps=_raw("deposits", "withdrawals"),
)
def transactions(warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per clean deposit or withdrawal (kind), with status, amount and UTC day."""
    return _build(warehouse, "transactions")


@dg.asset(
    key=["core", "currencies"],
    group_name="core",
    kinds={"postgres"},
    deps=[dg.AssetKey(["core", "transactions"])],
)
def currencies(warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per currency seen in transactions: first and last day, counts per kind."""
    return _build(warehouse, "currencies")


@dg.asset(key=["core", "logins"], group_name="core", kinds={"postgres"}, deps=_raw("events"))
def logins(warehouse: Warehouse, model: ModelSettings) -> dg.MaterializeResult:
    """One row per clean event whose name is a login (BITSO_LOGIN_EVENTS, default `login`)."""
    return _build(warehouse, "logins", {"login_events": model.login_event_names()})


@dg.asset(
    key=["core", "user_levels"], group_name="core", kinds={"postgres"}, deps=_raw("user_levels")
)
def user_levels(warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per user and level validity interval (valid_from, valid_to, rank 1 = latest)."""
    return _build(warehouse, "user_levels")
