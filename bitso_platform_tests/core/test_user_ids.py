"""core's user ids in code point order, and core.logins' indexes the readers can use."""

import io
import re
from datetime import UTC, datetime

from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.snapshots.loader import RAW_DDL, load_snapshot
from bitso_platform.snapshots.spec import SNAPSHOTS
from bitso_platform.sql import load_sql, sql_sections
from bitso_platform_tests.plans import plan_text


def plan(warehouse: Warehouse, query: str, params: dict) -> str:
    """The plan of `query` with sequential scans, sorts and hashed groups priced out: what
    indexes allow (as the marts' rebuilds group: by sorting, or in index order)."""
    with warehouse.connection() as conn:
        return plan_text(conn, query, params, priced_out=("seqscan", "sort", "hashagg"))


def test_user_ids_compare_as_bytes_not_by_the_database_locale(empty_model: Warehouse) -> None:
    """Every load sorts them: core.logins for its table and its index by day (34 M rows at
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


def test_a_users_latest_login_is_one_probe_of_the_users_key(empty_model: Warehouse) -> None:
    query = plan(empty_model, load_sql("questions/latest_login"), {"user_id": "a" * 32})
    assert "users_pkey" in query
    assert "logins" not in query


def test_a_load_copies_no_login_and_indexes_them_only_as_their_readers_read_them(
    empty_model: Warehouse,
) -> None:
    """core.logins is a view of raw.events: a table of them copied 34 M rows at scale 100 on
    every load, sorted them, and sorted them again for its key. Their one index is by day
    (daily_logins' day ranges), on the events, of the login events alone. None by user: Q4
    reads core.users."""
    with empty_model.connection() as conn:
        [(kind,)] = conn.execute(
            "select relkind from pg_class where oid = 'core.logins'::regclass"
        ).fetchall()
        indexes = conn.execute(
            "select indexname, indexdef from pg_indexes"
            " where (schemaname, tablename) in (('core', 'logins'), ('raw', 'events'))"
        ).fetchall()
    assert kind == "v"
    assert [name for name, _ in indexes] == ["logins_by_day"]
    assert "WHERE (event_name = ANY ('{login}'::text[]))" in indexes[0][1]


def test_a_load_copies_the_events_into_a_table_without_indexes(empty_model: Warehouse) -> None:
    """The loader drops a reader's index of its table before its COPY (each row would update
    it): core.logins builds its index of login days again after the load."""
    alice = "a" * 32
    events = f"id,event_timestamp,user_id,event_name\n1,2021-01-01 10:00:00+00,{alice},login\n"
    with empty_model.connection() as conn:
        conn.execute("create index events_by_user on raw.events (user_id)")
        users = f"user_id\n{alice}\n".encode()
        load_snapshot(conn, io.BytesIO(users), SNAPSHOTS["users"], source="users")
        load_snapshot(conn, io.BytesIO(events.encode()), SNAPSHOTS["events"], source="events")
        left = conn.execute(
            "select indexname from pg_indexes where schemaname = 'raw' and tablename = 'events'"
        ).fetchall()
        empty_model.run_sql(conn, "core/logins", {"login_events": ["login"]})
        logins = conn.execute("select id, user_id, logged_in_on::text from core.logins").fetchall()
    assert left == []
    assert logins == [(1, alice, "2021-01-01")]


def test_a_window_of_logins_is_grouped_from_the_day_index_alone_without_sorting(
    empty_model: Warehouse,
) -> None:
    """The day index carries each login's instant: the first and last login of a day's group
    come from the index, not from the table (at scale 100 a full backfill otherwise sorted
    34 M logins read from the table, the index scan costing more in the planner's sums)."""
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
    assert "Index Only Scan using logins_by_day" in query
    assert "Sort" not in query


def test_each_users_latest_login_is_the_latest_of_its_logins_for_any_login_set(
    warehouse: Warehouse,
) -> None:
    """core.users.last_login_at (Q4 without a day) agrees with core.logins, both built with
    the same login set (BITSO_LOGIN_EVENTS), for users with logins, without and unseen."""
    alice, bob, carol = "a" * 32, "b" * 32, "c" * 32
    files = {
        "users": f"user_id\n{alice}\n{bob}\n{carol}\n",
        "events": "id,event_timestamp,user_id,event_name\n"
        f"1,2021-01-01 10:00:00+00,{alice},login\n"
        f"2,2021-01-02 10:00:00+00,{alice},sso_login\n"
        f"3,2021-01-03 10:00:00+00,{alice},logout\n"
        f"4,2021-01-04 10:00:00+00,{bob},logout\n",
    }
    warehouse.ensure(*RAW_DDL, "core/schema")
    with warehouse.connection() as conn:
        for name, text in files.items():
            load_snapshot(conn, io.BytesIO(text.encode()), SNAPSHOTS[name], source=name)
        for table in ("logins", "users"):
            warehouse.run_sql(conn, f"core/{table}", {"login_events": ["login", "sso_login"]})
        latest = conn.execute(
            "select user_id, last_login_at from core.users order by user_id"
        ).fetchall()
        from_logins = conn.execute(
            "select users.user_id, max(logins.logged_in_at) from core.users as users"
            " left join core.logins as logins using (user_id)"
            " group by users.user_id order by users.user_id"
        ).fetchall()
    assert latest == from_logins
    assert latest == [
        (alice, datetime(2021, 1, 2, 10, tzinfo=UTC)),
        (bob, None),
        (carol, None),
    ]


def test_a_warehouse_whose_logins_are_a_table_gets_the_view(empty_model: Warehouse) -> None:
    """A warehouse loaded before the view holds core.logins as a table: the next load drops it
    and creates the view in its place."""
    with empty_model.connection() as conn:
        conn.execute("drop view core.logins")
        conn.execute("create table core.logins (id bigint primary key)")
        empty_model.run_sql(conn, "core/logins", {"login_events": ["login"]})
        [(kind,)] = conn.execute(
            "select relkind from pg_class where oid = 'core.logins'::regclass"
        ).fetchall()
    assert kind == "v"
