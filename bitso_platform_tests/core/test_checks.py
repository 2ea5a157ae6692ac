"""The core checks' SQL: each scans a table as often as its text names it, no more.

They run inside every load, over every row of the model (tens of millions of logins at
scale 100), so a plan that scans a table twice doubles the check.
"""

import re
from collections import Counter

import pytest

from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.sql import load_sql
from bitso_platform_tests.plans import plan_nodes

CORE_CHECKS = [
    "checks/core_logins_match_raw",
    "checks/core_transactions_match_raw",
    "checks/core_user_levels_intervals",
    "checks/core_users_match_raw",
]
TABLE = re.compile(r"\b(?:from|join)\s+((?:raw|core)\.\w+)", re.IGNORECASE)


def scans(plan: dict) -> Counter[str]:
    """Relations read by the scan nodes of an EXPLAIN (FORMAT JSON, VERBOSE) plan."""
    return Counter(
        f"{node['Schema']}.{node['Relation Name']}"
        for node in plan_nodes(plan)
        if "Relation Name" in node
    )


@pytest.mark.parametrize("check", CORE_CHECKS)
def test_a_core_check_scans_each_table_once_per_mention(empty_model: Warehouse, check: str) -> None:
    text = load_sql(check)
    with empty_model.connection() as conn:
        # A view is scanned as the table it reads (core.logins: raw.events).
        views = dict(
            conn.execute(
                "select view_schema || '.' || view_name, table_schema || '.' || table_name"
                " from information_schema.view_table_usage where view_schema = 'core'"
            ).fetchall()
        )
        named = Counter(
            views.get(name, name) for name in TABLE.findall(re.sub(r"--[^\n]*", "", text))
        )
        [(plan,)] = conn.execute(
            "explain (format json, verbose) " + text, {"login_events": ["login"]}
        ).fetchall()
    scanned = scans(plan[0]["Plan"])
    assert scanned == named, f"{check}: scans {dict(scanned)}, its SQL names {dict(named)}"
