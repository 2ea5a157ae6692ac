"""Core model assets: typed, keyed, indexed facts and dimensions built from `raw`."""

import dagster as dg

from bitso_platform.metadata import table_metadata
from bitso_platform.resources.load_transaction import LoadTransaction
from bitso_platform.resources.model import ModelSettings


def _raw(*names: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(["raw", name]) for name in names]


def _build(load: LoadTransaction, table: str, params: dict | None = None) -> dg.MaterializeResult:
    """Rebuild core.<table> from its SQL file inside the load's transaction; describe it."""
    with load.savepoint() as conn:
        load.warehouse.run_sql(conn, f"core/{table}", params)
        metadata = table_metadata(conn, "core", table)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=["core", "users"],
    group_name="core",
    kinds={"postgres"},
    deps=_raw("users", "deposits", "withdrawals", "events"),
)
def users(load: LoadTransaction, model: ModelSettings) -> dg.MaterializeResult:
    """One row per clean user of the users snapshot, with the first UTC day of activity and
    the latest login (an event named in BITSO_LOGIN_EVENTS)."""
    return _build(load, "users", {"login_events": model.login_event_names()})


@dg.asset(
    key=["core", "transactions"],
    group_name="core",
    kinds={"postgres"},
    deps=_raw("deposits", "withdrawals"),
)
def transactions(load: LoadTransaction) -> dg.MaterializeResult:
    """One row per clean deposit or withdrawal (kind), with status, amount and UTC day."""
    return _build(load, "transactions")


@dg.asset(
    key=["core", "currencies"],
    group_name="core",
    kinds={"postgres"},
    deps=[dg.AssetKey(["core", "transactions"])],
)
def currencies(load: LoadTransaction) -> dg.MaterializeResult:
    """One row per currency seen in transactions: first and last day, counts per kind."""
    return _build(load, "currencies")


@dg.asset(key=["core", "logins"], group_name="core", kinds={"postgres"}, deps=_raw("events"))
def logins(load: LoadTransaction, model: ModelSettings) -> dg.MaterializeResult:
    """One row per clean event whose name is a login (BITSO_LOGIN_EVENTS, default `login`)."""
    return _build(load, "logins", {"login_events": model.login_event_names()})


@dg.asset(
    key=["core", "user_levels"], group_name="core", kinds={"postgres"}, deps=_raw("user_levels")
)
def user_levels(load: LoadTransaction) -> dg.MaterializeResult:
    """One row per user and level validity interval (valid_from, valid_to, rank 1 = latest)."""
    return _build(load, "user_levels")
