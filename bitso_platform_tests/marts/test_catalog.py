"""A mart is declared once: the build order, the checks and the team grants follow from it."""

import dataclasses
import subprocess
import sys
from graphlib import CycleError

import pytest

from bitso_platform.access import READERS
from bitso_platform.defs.marts.catalog import DAILY_MOVEMENTS, MARTS, Mart, in_build_order
from bitso_platform.sql import load_sql


def test_every_mart_comes_after_the_marts_it_reads_whatever_order_they_are_listed_in() -> None:
    for listed in (MARTS, tuple(reversed(MARTS)), MARTS[1::2] + MARTS[::2]):
        order = [mart.asset for mart in in_build_order(listed)]
        assert sorted(order) == sorted(mart.asset for mart in MARTS)
        for mart in listed:
            for dep in mart.deps:
                if dep.startswith("marts/"):
                    assert order.index(dep) < order.index(mart.asset), (dep, mart.table)


def test_a_mart_that_reads_an_undeclared_mart_is_refused() -> None:
    reads_missing = dataclasses.replace(
        DAILY_MOVEMENTS, table="daily_orphans", deps=("marts/daily_nowhere",)
    )
    with pytest.raises(ValueError, match="marts/daily_nowhere"):
        in_build_order((*MARTS, reads_missing))


def test_marts_that_read_each_other_in_a_cycle_are_refused() -> None:
    first = dataclasses.replace(DAILY_MOVEMENTS, table="first", deps=("marts/second",))
    second = dataclasses.replace(DAILY_MOVEMENTS, table="second", deps=("marts/first",))
    with pytest.raises(CycleError):
        in_build_order((first, second))


@pytest.mark.parametrize("mart", MARTS, ids=[mart.table for mart in MARTS])
def test_a_mart_sql_file_leaves_the_session_and_the_window_delete_to_the_rebuild(
    mart: Mart,
) -> None:
    text = load_sql(f"marts/{mart.table}").lower()
    for shared in ("set local", "create schema", "delete from"):
        assert shared not in text, shared
    assert "set local" in load_sql("marts/session")


def test_each_team_reads_what_the_marts_declare_for_it() -> None:
    deposit_history = {"marts.deposit_ordinals", "marts.refreshes", "core.users"}
    assert {role: set(tables) for role, tables in READERS.items()} == {
        "bi_reader": {
            *deposit_history,
            "marts.daily_kpis",
            "marts.daily_currency_totals",
            "marts.daily_movements",
            "marts.daily_user_status",
            "marts.monthly_currency_stats",
        },
        "ml_reader": {
            *deposit_history,
            "marts.daily_kpis",
            "marts.daily_user_features",
            "marts.user_features_as_of",
            "marts.user_currency_features_as_of",
            "marts.daily_balances",
            "marts.daily_logins",
            "marts.daily_movements",
        },
        "experimentation_reader": {
            "marts.daily_user_status",
            "marts.daily_logins",
            "marts.daily_kpis",
        },
        "marketing_reader": {
            *deposit_history,
            "marts.daily_kpis",
            "marts.user_segments",
            "marts.daily_user_status",
        },
    }


def test_the_team_grants_are_read_without_importing_dagster() -> None:
    probe = "import sys, bitso_platform.access; print('dagster' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
