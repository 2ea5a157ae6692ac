"""core.user_levels: one row per user and validity interval, rank 1 = latest."""

import io
from datetime import date

import dagster as dg
import pytest

from bitso_platform import questions
from bitso_platform.defs.core.assets import user_levels
from bitso_platform.defs.core.checks import user_level_intervals_chain
from bitso_platform.resources.load_transaction import LoadTransaction
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.snapshots.loader import RAW_DDL, load_snapshot
from bitso_platform.snapshots.spec import SNAPSHOTS
from bitso_platform.sql import load_sql
from bitso_platform_tests.plans import build_insert, plan_nodes

ANA, BEN, CAROL = "a" * 32, "b" * 32, "c" * 32


def load(warehouse: Warehouse, name: str, text: str) -> None:
    warehouse.ensure(*RAW_DDL)
    with warehouse.connection() as conn:
        load_snapshot(conn, io.BytesIO(text.encode()), SNAPSHOTS[name], source=name)


@dg.asset(deps=[user_levels.key])
def committed(load: LoadTransaction) -> None:
    """Commits the load transaction, as raw/snapshot_loads does after a whole load."""
    load.commit()


@pytest.fixture
def levels(warehouse: Warehouse) -> Warehouse:
    load(warehouse, "users", f"user_id\n{ANA}\n{BEN}\n{CAROL}\n")
    load(
        warehouse,
        "user_levels",
        "user_id,jurisdiction,level,event_timestamp\n"
        # out of order in the file
        f"{ANA},mx,2,2021-05-01 10:00:00+00\n"
        f"{ANA},mx,1,2021-01-01 10:00:00+00\n"
        # several changes on one day, two in the same instant: the later line wins
        f"{BEN},ar,1,2021-03-03 08:00:00+00\n"
        f"{BEN},ar,2,2021-03-03 12:00:00+00\n"
        f"{BEN},ar,3,2021-03-03 12:00:00+00\n",
    )
    result = dg.materialize(
        [user_levels, user_level_intervals_chain, committed],
        resources={"load": LoadTransaction(warehouse=warehouse)},
        selection=dg.AssetSelection.all(),
    )
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    return warehouse


def level_at(warehouse: Warehouse, user: str, instant: str) -> str | None:
    with warehouse.connection() as conn:
        row = conn.execute(
            "select level from core.user_levels where user_id = %s and valid_from <= %s"
            " order by valid_from desc, rank limit 1",
            [user, instant],
        ).fetchone()
    return row[0] if row else None


def test_changes_that_arrive_out_of_order_chain_by_time(levels: Warehouse) -> None:
    assert level_at(levels, ANA, "2020-12-31 00:00:00+00") is None
    assert level_at(levels, ANA, "2021-03-01 00:00:00+00") == "1"
    assert level_at(levels, ANA, "2021-06-01 00:00:00+00") == "2"


def test_several_changes_in_one_day_keep_every_interval(levels: Warehouse) -> None:
    with levels.connection() as conn:
        rows = conn.execute(
            "select rank, level, valid_from::text, valid_to::text from core.user_levels"
            " where user_id = %s order by rank",
            [BEN],
        ).fetchall()
    assert rows == [
        (1, "3", "2021-03-03 12:00:00+00", None),
        (2, "2", "2021-03-03 12:00:00+00", "2021-03-03 12:00:00+00"),
        (3, "1", "2021-03-03 08:00:00+00", "2021-03-03 12:00:00+00"),
    ]
    assert level_at(levels, BEN, "2021-03-03 13:00:00+00") == "3"


def test_a_user_without_levels_has_no_rows(levels: Warehouse) -> None:
    with levels.connection() as conn:
        assert conn.execute(
            "select count(*) from core.user_levels where user_id = %s", [CAROL]
        ).fetchone() == (0,)


def test_the_level_on_a_day_is_the_one_holding_at_the_end_of_it(levels: Warehouse) -> None:
    assert questions.user_level(levels, ANA, date(2020, 12, 31)) is None
    assert questions.user_level(levels, ANA, date(2021, 1, 1)) == ("1", "mx")  # set at 10:00
    assert questions.user_level(levels, ANA, date(2021, 4, 30)) == ("1", "mx")
    assert questions.user_level(levels, ANA, date(2021, 5, 1)) == ("2", "mx")
    assert questions.user_level(levels, BEN, date(2021, 3, 2)) is None
    assert questions.user_level(levels, BEN, date(2021, 3, 3)) == ("3", "ar")
    assert questions.user_level(levels, CAROL, date(2023, 1, 1)) is None


def test_the_level_on_a_day_is_one_probe_of_a_covering_index(levels: Warehouse) -> None:
    with levels.connection() as conn:
        conn.execute("set local enable_seqscan = off")  # a three-user table would be scanned
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "explain " + load_sql("questions/user_level"), {"user_id": ANA, "day": date.today()}
            )
        )
    assert "Index Only Scan using user_levels_as_of" in plan
    assert "Sort" not in plan


def test_a_load_sorts_the_level_changes_once(empty_model: Warehouse) -> None:
    """The next change and the rank come from one ordering of each user's changes (latest
    first): every load sorts them all (4.2 M at scale 100), once, not once per direction."""
    insert = build_insert("core/user_levels")
    with empty_model.connection() as conn:
        [(plan,)] = conn.execute("explain (format json) " + insert).fetchall()
    sorts = [node for node in plan_nodes(plan[0]["Plan"]) if node["Node Type"].endswith("Sort")]
    assert len(sorts) == 1
