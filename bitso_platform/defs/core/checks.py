"""Core model checks: the model holds exactly what `raw` holds, keyed and consistent.

They run inside the load's transaction, on the generation about to be committed."""

import dagster as dg

from bitso_platform.metadata import sql_check
from bitso_platform.resources.load_transaction import LoadTransaction
from bitso_platform.resources.model import ModelSettings
from bitso_platform.sql import load_sql

TRANSACTIONS = dg.AssetKey(["core", "transactions"])
USERS = dg.AssetKey(["core", "users"])
LOGINS = dg.AssetKey(["core", "logins"])
USER_LEVELS = dg.AssetKey(["core", "user_levels"])


@dg.asset_check(asset=TRANSACTIONS, blocking=True)
def transactions_match_raw(load: LoadTransaction) -> dg.AssetCheckResult:
    """Every clean deposit and withdrawal appears once, with the same total amount per kind."""
    with load.savepoint() as conn:
        return sql_check(
            conn,
            load_sql("checks/core_transactions_match_raw"),
            asset_key=TRANSACTIONS,
            check_name="transactions_match_raw",
        )


@dg.asset_check(asset=USERS, blocking=True, additional_deps=[TRANSACTIONS, LOGINS])
def users_match_raw(load: LoadTransaction) -> dg.AssetCheckResult:
    """One row per clean user, and every transaction's and login's user is among them."""
    with load.savepoint() as conn:
        return sql_check(
            conn,
            load_sql("checks/core_users_match_raw"),
            asset_key=USERS,
            check_name="users_match_raw",
        )


@dg.asset_check(asset=LOGINS, blocking=True)
def logins_match_raw(load: LoadTransaction, model: ModelSettings) -> dg.AssetCheckResult:
    """Exactly the clean events whose name is in the login set."""
    with load.savepoint() as conn:
        return sql_check(
            conn,
            load_sql("checks/core_logins_match_raw"),
            {"login_events": model.login_event_names()},
            asset_key=LOGINS,
            check_name="logins_match_raw",
        )


@dg.asset_check(asset=USER_LEVELS)
def user_level_intervals_chain(load: LoadTransaction) -> dg.AssetCheckResult:
    """Each user's level intervals follow one another, and only the latest is open."""
    with load.savepoint() as conn:
        return sql_check(
            conn,
            load_sql("checks/core_user_levels_intervals"),
            asset_key=USER_LEVELS,
            check_name="user_level_intervals_chain",
        )
