"""Q2 and Q3 from the in-memory deposit history: never older than the marts, equal to the SQL."""

from datetime import date, timedelta

import psycopg

from bitso_platform import deposit_history, questions
from bitso_platform.access import apply_access_roles
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.sql import load_sql
from bitso_platform_tests.marts import world
from bitso_platform_tests.plans import plan_text

DAY = date(2022, 6, 1)
NEWCOMER = "0000ffff000000000000000000000010"


def sql_answer(conn: psycopg.Connection, name: str, params: dict) -> list[str]:
    """The answer of sql/questions/<name>.sql, the SQL form of the question."""
    row = conn.execute(load_sql(f"questions/{name}"), params).fetchone()
    return row[0].split("\n") if row and row[0] else []


def deposit_for_idle_user(url: str) -> None:
    """A counted deposit of the idle edge user on DAY, through core and that day's marts."""
    warehouse = Warehouse(url=url)
    with warehouse.connection() as conn:
        conn.execute(
            "insert into raw.deposits values (990001, %s, %s, '10', 'mxn', 'complete', 0)",
            [f"{DAY} 12:00:00+00", world.IDLE],
        )
        warehouse.run_sql(conn, "core/transactions")
    world.build(url, DAY, DAY)


def test_the_sql_forms_of_q2_and_q3_give_the_same_answers(built_url: str) -> None:
    with psycopg.connect(built_url, autocommit=True) as conn:
        for day in (world.FIRST_DAY, world.BURST_DAY, DAY, world.LAST_FACT_DAY):
            assert questions.users_without_deposit(conn, day) == sql_answer(
                conn, "users_without_deposit", {"as_of": day}
            ), day
            for more_than in (0, 1, 5, 7, 40):
                assert questions.frequent_depositors(conn, day, more_than) == sql_answer(
                    conn, "frequent_depositors", {"day": day, "more_than": more_than}
                ), (day, more_than)
        assert questions.users_without_deposit(conn) == sql_answer(
            conn, "users_without_deposit", {"as_of": None}
        )
        # The same answers asked of the SQL (as `bitso ask` does), the last built day for None.
        for day in (None, world.BURST_DAY):
            assert questions.users_without_deposit(
                conn, day, in_memory=False
            ) == questions.users_without_deposit(conn, day)
            assert questions.frequent_depositors(
                conn, world.BURST_DAY, 1, in_memory=False
            ) == questions.frequent_depositors(conn, world.BURST_DAY, 1)


def test_q2s_sql_form_merges_two_index_ranges_without_sorting(built_url: str) -> None:
    """At scale 100 the first deposits are 1.3 M ids: sorted again, they spill to disk."""
    with psycopg.connect(built_url) as conn:
        plan = plan_text(
            conn,
            load_sql("questions/users_without_deposit"),
            {"as_of": DAY},
            priced_out=("hashjoin", "nestloop", "seqscan"),
        )
    assert "Merge Anti Join" in plan
    assert "deposit_ordinals_by_user" in plan
    assert "Sort" not in plan


def test_a_rebuilt_day_is_in_the_next_answer(built_url: str) -> None:
    with psycopg.connect(built_url, autocommit=True) as conn:
        assert world.IDLE in questions.users_without_deposit(conn)
        assert world.IDLE not in questions.frequent_depositors(conn, world.LAST_FACT_DAY, 0)

        deposit_for_idle_user(built_url)

        assert world.IDLE not in questions.users_without_deposit(conn)
        assert world.IDLE in questions.users_without_deposit(conn, DAY - timedelta(days=1))
        assert world.IDLE not in questions.users_without_deposit(conn, DAY)
        assert world.IDLE in questions.frequent_depositors(conn, DAY, 0)
        assert world.IDLE not in questions.frequent_depositors(conn, DAY, 1)


def test_a_reloaded_users_table_is_in_the_next_answer(built_url: str) -> None:
    warehouse = Warehouse(url=built_url)
    with psycopg.connect(built_url, autocommit=True) as conn:
        assert NEWCOMER not in questions.users_without_deposit(conn)
        with warehouse.connection() as load:
            load.execute("insert into raw.users values (%s, 0)", [NEWCOMER])
            warehouse.run_sql(load, "core/users", {"login_events": ["login"]})
        assert NEWCOMER in questions.users_without_deposit(conn, world.FIRST_DAY)


def test_the_history_carries_the_stamp_of_what_it_was_read_from(built_url: str) -> None:
    with psycopg.connect(built_url, autocommit=True) as conn:
        before = deposit_history.deposit_history(conn)
        deposit_for_idle_user(built_url)
        after = deposit_history.deposit_history(conn)
        assert after is not before
        assert after.stamp == deposit_history._stamp(conn) != before.stamp
        assert deposit_history.deposit_history(conn) is after  # unchanged: not read again


def test_the_teams_that_ask_q2_and_q3_can_answer_them_under_their_own_role(
    built_url: str,
) -> None:
    with psycopg.connect(built_url, autocommit=True) as owner:
        apply_access_roles(owner)
        without = questions.users_without_deposit(owner, world.BURST_DAY)
        frequent = questions.frequent_depositors(owner, world.BURST_DAY, 1)
    for role in ("bi_reader", "marketing_reader", "ml_reader"):
        with psycopg.connect(built_url, user=role, autocommit=True) as conn:
            assert questions.users_without_deposit(conn, world.BURST_DAY) == without, role
            assert questions.frequent_depositors(conn, world.BURST_DAY, 1) == frequent, role


def test_more_deposits_than_anyone_has_answer_nobody_however_large_the_number(
    built_url: str,
) -> None:
    with psycopg.connect(built_url, autocommit=True) as conn:
        for more_than in (10_000, 2**63 - 1, 10**23):
            assert questions.frequent_depositors(conn, world.LAST_FACT_DAY, more_than) == []
