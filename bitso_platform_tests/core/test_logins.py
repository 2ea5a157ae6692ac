"""core.logins: user ids in code point order, and indexes the readers can use."""

import re

from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.sql import load_sql, sql_sections


def plan(warehouse: Warehouse, query: str, params: dict) -> str:
    """The plan of `query` with sequential scans and sorts priced out: what indexes allow."""
    with warehouse.connection() as conn:
        conn.execute("set enable_seqscan = off")
        conn.execute("set enable_sort = off")
        rows = conn.execute(f"explain {query}", params).fetchall()
    return "\n".join(line for (line,) in rows)


def test_user_ids_compare_as_bytes_not_by_the_database_locale(empty_model: Warehouse) -> None:
    """Three of core.logins' sorts (the table, two indexes) are over user ids: 34 M at
    scale 100, built in every load."""
    with empty_model.connection() as conn:
        collations = conn.execute(
            "select collation_name from information_schema.columns"
            " where table_schema = 'core' and table_name in ('logins', 'users')"
            " and column_name = 'user_id'"
        ).fetchall()
    assert collations == [("C",), ("C",)]


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
