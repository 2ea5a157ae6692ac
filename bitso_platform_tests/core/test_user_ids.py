"""core's user ids in code point order, and core.logins' indexes the readers can use."""

import re

from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.sql import load_sql, sql_sections
from bitso_platform_tests.plans import plan_text


def plan(warehouse: Warehouse, query: str, params: dict) -> str:
    """The plan of `query` with sequential scans and sorts priced out: what indexes allow."""
    with warehouse.connection() as conn:
        return plan_text(conn, query, params, priced_out=("seqscan", "sort"))


def test_user_ids_compare_as_bytes_not_by_the_database_locale(empty_model: Warehouse) -> None:
    """Every load sorts them: core.logins three times (the table, two indexes: 34 M rows at
    scale 100), core.transactions for its index by user, and the marts group by them."""
    with empty_model.connection() as conn:
        collations = conn.execute(
            "select table_name, collation_name from information_schema.columns"
            " where table_schema = 'core' and column_name = 'user_id' order by table_name"
        ).fetchall()
    assert dict(collations) == {
        "logins": "C",
        "transactions": "C",
        "user_levels": None,  # declared by sql/core/schema.sql; its windows sort in "C"
        "users": "C",
    }


def test_a_users_latest_login_is_one_index_probe(empty_model: Warehouse) -> None:
    query = plan(empty_model, load_sql("questions/latest_login"), {"user_id": "a" * 32})
    assert "logins_by_user" in query


def test_a_window_of_logins_is_grouped_from_the_day_index_without_sorting(
    empty_model: Warehouse,
) -> None:
    build = sql_sections("marts/daily_logins").build
    create_mart, insert_window = (
        re.search(rf"^{verb} .*?;$", build, re.MULTILINE | re.DOTALL).group()  # type: ignore[union-attr]
        for verb in ("create table", "insert into")
    )
    with empty_model.connection() as conn:
        conn.execute("create schema marts")
        conn.execute(create_mart)
        conn.commit()
    window = {"window_start": "2021-01-01", "window_end": "2021-01-02"}
    query = plan(empty_model, insert_window, window)
    assert "logins_by_day" in query
    assert "Sort" not in query
