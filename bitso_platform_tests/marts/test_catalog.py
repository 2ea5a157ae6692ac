"""A mart is declared once: the build order, the checks and the team grants follow from it."""

import dataclasses
import subprocess
import sys
from graphlib import CycleError

import pytest

from bitso_platform.access import READERS
from bitso_platform.defs.marts.catalog import (
    COUNTS_NOT_NEGATIVE,
    DAILY_BALANCES,
    DAILY_MOVEMENTS,
    MARTS,
    Check,
    Mart,
    in_build_order,
    with_check_sql,
)
from bitso_platform.sql import load_sql, sql_sections


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


def test_a_declared_check_without_its_section_of_the_mart_sql_file_is_refused() -> None:
    unwritten = Check("balances_add_up", "Declared, but its SQL was never written.")
    declared = dataclasses.replace(DAILY_MOVEMENTS, checks=(*DAILY_MOVEMENTS.checks, unwritten))
    with pytest.raises(ValueError, match=r"sql/marts/daily_movements\.sql.*balances_add_up"):
        with_check_sql((*MARTS, declared))


def test_a_section_of_the_mart_sql_file_without_its_declared_check_is_refused() -> None:
    templates_only = tuple(check for check in DAILY_MOVEMENTS.checks if check.template)
    undeclared = dataclasses.replace(DAILY_MOVEMENTS, checks=templates_only)
    with pytest.raises(ValueError, match=r"daily_movements\.sql.*reconciles_with_core"):
        with_check_sql((undeclared,))


def test_counts_not_negative_on_a_mart_without_count_columns_is_refused() -> None:
    with pytest.raises(ValueError, match=r"daily_balances.*counts_not_negative.*count_"):
        dataclasses.replace(DAILY_BALANCES, checks=(*DAILY_BALANCES.checks, COUNTS_NOT_NEGATIVE))


@pytest.mark.parametrize("mart", MARTS, ids=[mart.table for mart in MARTS])
def test_a_mart_build_leaves_the_session_and_the_window_delete_to_the_rebuild(
    mart: Mart,
) -> None:
    text = sql_sections(f"marts/{mart.table}").build.lower()
    for shared in ("set local", "create schema", "delete from"):
        assert shared not in text, shared
    assert "set local" in load_sql("marts/session")


def test_a_check_that_only_warns_says_what_its_warning_means() -> None:
    warning = [check for mart in MARTS for check in mart.checks if not check.blocking]
    assert warning and all(check.warning for check in warning)


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
