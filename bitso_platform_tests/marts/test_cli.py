"""`bitso build` and `bitso ask`, run as a user runs them, against real Postgres."""

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from bitso_platform import questions
from bitso_platform.cli import main
from bitso_platform_tests.marts import world

DAY = world.BURST_DAY


@pytest.fixture
def bitso(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Run `bitso ...` on a given warehouse, with a Dagster instance of the test's own."""
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    def run(url: str, *args: str):
        monkeypatch.setenv("BITSO_WAREHOUSE_URL", url)
        return CliRunner().invoke(main, list(args))

    return run


def test_build_runs_the_range_as_one_run_and_prints_rows_per_mart(bitso, built_url: str) -> None:
    last = DAY + timedelta(days=2)
    result = bitso(built_url, "build", "--from", DAY.isoformat(), "--to", last.isoformat())
    assert result.exit_code == 0, result.output
    for table in ("daily_movements", "daily_logins", "daily_kpis", "deposit_ordinals"):
        assert f"marts/{table}" in result.output
    rows = [line.split()[:2] for line in result.output.splitlines()]
    assert ["marts/user_segments", "view"] in rows  # a view: rebuilt, not counted
    assert f"days {DAY}..{last}; checks 27 passed" in result.output


def test_build_without_the_days_before_fails_the_running_state_checks(
    bitso, loaded_url: str
) -> None:
    last = DAY + timedelta(days=2)
    result = bitso(loaded_url, "build", "--from", DAY.isoformat(), "--to", last.isoformat())
    assert result.exit_code == 1
    assert "check failed: marts/daily_balances equal_sum_of_movements" in result.output
    with psycopg.connect(loaded_url) as conn:
        assert conn.execute("select count(*) from marts.daily_movements").fetchone() != (0,)


def test_build_refuses_days_outside_the_partitions(bitso, loaded_url: str) -> None:
    before = bitso(loaded_url, "build", "--from", "2019-12-31", "--to", "2020-01-02")
    assert before.exit_code == 2
    assert "BITSO_PARTITIONS_START" in before.output
    backwards = bitso(loaded_url, "build", "--from", "2020-01-05", "--to", "2020-01-01")
    assert backwards.exit_code == 2
    assert "is after --to" in backwards.output


def test_ask_prints_one_json_object_with_question_params_and_answer(bitso, built_url: str) -> None:
    with psycopg.connect(built_url) as conn:
        active = questions.active_users(conn, DAY)
        amount = questions.amount_deposited(conn, "mxn", DAY)
        frequent = questions.frequent_depositors(conn, world.LAST_FACT_DAY, 5)

    answer = json.loads(
        bitso(built_url, "ask", "active-users", "--day", str(DAY), "--format", "json").output
    )
    assert answer == {"question": "active-users", "params": {"day": str(DAY)}, "answer": active}

    output = bitso(
        built_url,
        "ask",
        "amount-deposited",
        "--currency",
        "MXN",
        "--day",
        str(DAY),
        "--format",
        "json",
    ).output
    parsed = json.loads(output, parse_float=Decimal)
    assert parsed["params"] == {"currency": "mxn", "day": str(DAY)}
    assert Decimal(parsed["answer"]) == amount

    output = bitso(
        built_url,
        "ask",
        "frequent-depositors",
        "--day",
        str(world.LAST_FACT_DAY),
        "--format",
        "json",
    ).output
    assert json.loads(output) == {
        "question": "frequent-depositors",
        "params": {"day": str(world.LAST_FACT_DAY), "more_than": 5},
        "answer": frequent,
    }


def test_ask_answers_null_and_zero_for_a_user_without_logins(bitso, built_url: str) -> None:
    last = json.loads(
        bitso(built_url, "ask", "last-login", "--user", world.IDLE, "--format", "json").output
    )
    assert last == {
        "question": "last-login",
        "params": {"user": world.IDLE, "as_of": None},
        "answer": None,
    }
    count = bitso(
        built_url,
        "ask",
        "login-count",
        "--user",
        world.IDLE,
        "--from",
        "2020-01-01",
        "--to",
        "2023-08-23",
        "--format",
        "csv",
    ).output
    assert count.splitlines() == ["user,from,to,answer", f"{world.IDLE},2020-01-01,2023-08-23,0"]


def test_ask_prints_a_table_and_csv_of_lists(bitso, built_url: str) -> None:
    with psycopg.connect(built_url) as conn:
        currencies = questions.currencies_deposited(conn, DAY)
    table = bitso(built_url, "ask", "currencies-deposited", "--day", str(DAY)).output
    assert table.splitlines()[:3] == [
        "question  currencies-deposited",
        f"day       {DAY}",
        f"count     {len(currencies)}",
    ]
    assert table.splitlines()[-len(currencies) :] == currencies
    csv = bitso(built_url, "ask", "currencies-deposited", "--day", str(DAY), "--format", "csv")
    assert csv.output.splitlines() == ["currency", *currencies]


def test_ask_explains_what_to_run_when_the_marts_are_missing(
    bitso, loaded_url: str, warehouse_url: str
) -> None:
    not_built = bitso(loaded_url, "ask", "active-users", "--day", str(DAY))
    assert not_built.exit_code == 1
    assert "run `bitso build`" in not_built.output
    not_loaded = bitso(warehouse_url, "ask", "currencies-withdrawn", "--day", str(DAY))
    assert not_loaded.exit_code == 1
    assert "run `bitso load` first" in not_loaded.output
    bad_day = bitso(loaded_url, "ask", "active-users", "--day", "2021-02-30")
    assert bad_day.exit_code == 2
    assert "is not a day" in bad_day.output


def test_ask_segment_prints_the_members_as_json_csv_or_a_table(bitso, built_url: str) -> None:
    with psycopg.connect(built_url) as conn:
        members = questions.segment(conn, "high_value", DAY)
    assert members
    args = ("ask", "segment", "--name", "high_value", "--day", str(DAY))
    assert json.loads(bitso(built_url, *args, "--format", "json").output) == {
        "question": "segment",
        "params": {"name": "high_value", "day": str(DAY)},
        "answer": members,
    }
    assert bitso(built_url, *args, "--format", "csv").output.splitlines() == ["user_id", *members]
    table = bitso(built_url, *args).output.splitlines()
    assert table[:4] == [
        "question  segment",
        "name      high_value",
        f"day       {DAY}",
        f"count     {len(members)}",
    ]
    unknown = bitso(built_url, "ask", "segment", "--name", "whales", "--day", str(DAY))
    assert unknown.exit_code == 2
    assert "never_deposited" in unknown.output


def test_ask_all_gives_the_eight_answers_of_a_day_as_the_single_questions_do(
    bitso, built_url: str
) -> None:
    asked = json.loads(bitso(built_url, "ask", "all", "--day", str(DAY), "--format", "json").output)
    with psycopg.connect(built_url) as conn:
        user = conn.execute(
            "select user_id from core.logins where logged_in_at < %s"
            " order by logged_in_at desc limit 1",
            [DAY + timedelta(days=1)],
        ).fetchone()[0]
        since = DAY - timedelta(days=29)
        expected = [
            ("active-users", {"day": str(DAY)}, questions.active_users(conn, DAY)),
            (
                "users-without-deposit",
                {"as_of": str(DAY)},
                questions.users_without_deposit(conn, DAY),
            ),
            (
                "frequent-depositors",
                {"day": str(DAY), "more_than": 5},
                questions.frequent_depositors(conn, DAY),
            ),
            (
                "last-login",
                {"user": user, "as_of": str(DAY)},
                questions.last_login(conn, user, DAY),
            ),
            (
                "login-count",
                {"user": user, "from": str(since), "to": str(DAY)},
                questions.login_count(conn, user, since, DAY),
            ),
            ("currencies-deposited", {"day": str(DAY)}, questions.currencies_deposited(conn, DAY)),
            ("currencies-withdrawn", {"day": str(DAY)}, questions.currencies_withdrawn(conn, DAY)),
            (
                "amount-deposited",
                {"currency": "mxn", "day": str(DAY)},
                float(questions.amount_deposited(conn, "mxn", DAY)),
            ),
        ]
    assert [(a["question"], a["params"], a["answer"]) for a in asked] == expected
    assert expected[3][2] is not None and expected[4][2] > 0  # a user who logged in


def test_ask_all_prints_a_line_per_question_and_takes_the_user_and_currency(
    bitso, built_url: str
) -> None:
    first = str(world.FIRST_DAY)
    args = ("ask", "all", "--day", first, "--user", world.HEAVY, "--currency", "BTC")
    lines = bitso(built_url, *args).output.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["Q1", "active-users"],
        ["Q2", "users-without-deposit"],
        ["Q3", "frequent-depositors"],
        ["Q4", "last-login"],
        ["Q5", "login-count"],
        ["Q6", "currencies-deposited"],
        ["Q7", "currencies-withdrawn"],
        ["Q8", "amount-deposited"],
    ]
    with psycopg.connect(built_url) as conn:
        without = questions.users_without_deposit(conn, world.FIRST_DAY)
    assert lines[1].endswith(f"{len(without):,}: {', '.join(without[:3])}, ...")
    # Q5 starts at the first built day; the heavy user's login at the first instant counts.
    assert f"user {world.HEAVY}, from {first}, to {first}  1" in lines[4]
    assert "currency btc" in lines[7]
    csv = bitso(built_url, *args, "--format", "csv").output.splitlines()
    assert csv[0] == "question,params,answer" and len(csv) == 9


def test_ask_all_says_what_to_run_when_the_marts_are_missing(bitso, loaded_url: str) -> None:
    result = bitso(loaded_url, "ask", "all", "--day", str(DAY))
    assert result.exit_code == 1
    assert "run `bitso build`" in result.output


def test_make_demo_builds_the_marts_then_prints_the_eight_answers_of_its_last_day() -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    demo = next(
        line for line in makefile.splitlines() if line.startswith("\t") and "generate" in line
    )
    steps = [step.strip() for step in demo.split("&&")]
    build = next(i for i, step in enumerate(steps) if step.startswith("$(BITSO) build --to "))
    asked = steps.index(f"$(BITSO) ask all --day {steps[build].split()[-1]}")
    assert build < asked
