"""A core model built from empty raw tables, for tests of its plans and declarations."""

import pytest

from bitso_platform.defs.snapshots.assets import TIDIED
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.snapshots.loader import RAW_DDL

TABLES = ("logins", "transactions", "currencies", "user_levels", "users")


@pytest.fixture
def empty_model(warehouse: Warehouse) -> Warehouse:
    """Empty raw tables and the core model built from them, as a first load leaves them."""
    warehouse.ensure(*RAW_DDL, "core/schema")
    with warehouse.connection() as conn:
        for table in TABLES:
            warehouse.run_sql(conn, f"core/{table}", {"login_events": ["login"]})
        conn.commit()
    for schema, table in TIDIED:
        warehouse.tidy(schema, table)  # as the load does once committed
    return warehouse
