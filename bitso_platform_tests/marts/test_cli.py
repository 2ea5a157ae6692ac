"""`bitso build` and `bitso ask`, run as a user runs them, against real Postgres."""

import json
import re
from datetime import date, timedelta
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


def test_build_reports_a_warning_check_that_sees_unbuilt_days_as_a_warning_with_its_reason(
    bitso, loaded_url: str
) -> None:
    first, last = world.FIRST_DAY, world.FIRST_DAY + timedelta(days=2)  # facts run on after
    result = bitso(loaded_url, "build", "--from", first.isoformat(), "--to", last.isoformat())
    assert result.exit_code == 0, result.output
    unbuilt = (world.LAST_FACT_DAY - last).days
    assert (
        f"check daily_kpis.cover_fact_days over all built days: warned on 3 of 3 days: "
        f"{unbuilt:,} days with transactions or logins are not built (facts "
        f"{first}..{world.LAST_FACT_DAY}, built {first}..{last})"
    ) in result.stderr
    assert "FAILED" not in result.output
    summary = f"days {first}..{last}; checks 26 passed, warnings: marts/daily_kpis cover_fact_days"
    assert summary in result.stdout


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
        "known": True,
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
    assert count.splitlines() == [
        "user,from,to,answer,known",
        f"{world.IDLE},2020-01-01,2023-08-23,0,true",
    ]


def test_ask_currencies_answers_their_number_with_the_currencies_beside_it(
    bitso, built_url: str
) -> None:
    with psycopg.connect(built_url) as conn:
        currencies = questions.currencies_deposited(conn, DAY)
    assert len(currencies) > 1
    args = ("ask", "currencies-deposited", "--day", str(DAY))
    assert json.loads(bitso(built_url, *args, "--format", "json").output) == {
        "question": "currencies-deposited",
        "params": {"day": str(DAY)},
        "answer": len(currencies),
        "currencies": currencies,
    }
    assert bitso(built_url, *args).output.splitlines() == [
        "question    currencies-deposited",
        f"day         {DAY}",
        f"answer      {len(currencies)}",
        f"currencies  {', '.join(currencies)}",
    ]
    assert bitso(built_url, *args, "--format", "csv").output.splitlines() == [
        "day,answer,currencies",
        f"{DAY},{len(currencies)},{' '.join(currencies)}",
    ]


def test_ask_says_plainly_when_the_user_or_currency_is_unknown(bitso, built_url: str) -> None:
    unknown_user = "ffff0000000000000000000000000009"
    args = ("ask", "last-login", "--user", unknown_user)
    assert json.loads(bitso(built_url, *args, "--format", "json").output) == {
        "question": "last-login",
        "params": {"user": unknown_user, "as_of": None},
        "answer": None,
        "known": False,
    }
    table = bitso(built_url, *args).output
    assert f"note      unknown user: {unknown_user} is not among the loaded users" in table
    assert "answer    null" in table

    args = ("ask", "amount-deposited", "--currency", "XYZ", "--day", str(DAY))
    answer = json.loads(bitso(built_url, *args, "--format", "json").output)
    assert (answer["answer"], answer["known"]) == (0, False)
    assert "unknown currency: no loaded transaction is in xyz" in bitso(built_url, *args).output
    known = json.loads(bitso(built_url, *args[:3], "mxn", *args[4:], "--format", "json").output)
    assert known["known"] is True and known["answer"] > 0

    lines = bitso(built_url, "ask", "all", "--day", str(DAY), "--user", unknown_user).output
    assert lines.splitlines()[3].endswith("  null (unknown user)")
    assert lines.splitlines()[4].endswith("  0 (unknown user)")


def test_ask_tables_write_numbers_with_thousands_separators_and_scripts_plainly(
    bitso, built_url: str
) -> None:
    with psycopg.connect(built_url) as conn:
        amount = questions.amount_deposited(conn, "mxn", DAY)
    assert amount >= 1000 and amount != amount.to_integral_value()
    args = ("ask", "amount-deposited", "--currency", "mxn", "--day", str(DAY))
    table = bitso(built_url, *args).output
    assert f"answer    {amount.normalize():,f}" in table
    csv = bitso(built_url, *args, "--format", "csv").output.splitlines()
    assert csv[1] == f"mxn,{DAY},{amount.normalize():f},true"
    assert (
        f'"answer": {amount.normalize():f},' in bitso(built_url, *args, "--format", "json").output
    )


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
        deposited = questions.currencies_deposited(conn, DAY)
        withdrawn = questions.currencies_withdrawn(conn, DAY)
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
            ("currencies-deposited", {"day": str(DAY)}, len(deposited)),
            ("currencies-withdrawn", {"day": str(DAY)}, len(withdrawn)),
            (
                "amount-deposited",
                {"currency": "mxn", "day": str(DAY)},
                float(questions.amount_deposited(conn, "mxn", DAY)),
            ),
        ]
    assert [(a["question"], a["params"], a["answer"]) for a in asked] == expected
    assert (asked[5]["currencies"], asked[6]["currencies"]) == (deposited, withdrawn)
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


def built_only_through(url: str, last: date) -> None:
    """Make the marts look built through `last` only (their built days are daily_kpis')."""
    with psycopg.connect(url) as conn:
        conn.execute("delete from marts.daily_kpis where day > %s", [last])


def test_ask_without_a_day_answers_from_the_loaded_data_or_says_its_day(
    bitso, built_url: str
) -> None:
    built_only_through(built_url, DAY)
    with psycopg.connect(built_url) as conn:
        (latest,) = conn.execute(
            "select max(logged_in_at) from core.logins where user_id = %s", [world.HEAVY]
        ).fetchone()
        (last_deposit,) = conn.execute(
            "select max(occurred_on) from core.transactions"
            " where kind = 'deposit' and status = 'complete'"
        ).fetchone()
    assert latest.date() > DAY
    last_login = bitso(built_url, "ask", "last-login", "--user", world.HEAVY, "--format", "json")
    assert json.loads(last_login.output)["answer"] == latest.isoformat(timespec="microseconds")

    without = json.loads(
        bitso(built_url, "ask", "users-without-deposit", "--format", "json").output
    )
    assert without["answered_as_of"] == str(DAY)
    as_of_day = bitso(
        built_url, "ask", "users-without-deposit", "--as-of", str(DAY), "--format", "json"
    )
    assert without["answer"] == json.loads(as_of_day.output)["answer"]
    table = bitso(built_url, "ask", "users-without-deposit").output
    assert (
        f"note            as of {DAY}, the last day the marts are built for; the loaded deposits"
        f" reach {last_deposit}: `bitso build --from {DAY + timedelta(days=1)} --to "
        f"{last_deposit}` takes them in"
    ) in table


def test_a_suggested_build_works_and_then_the_question_is_answered(bitso, built_url: str) -> None:
    built_only_through(built_url, world.LAST_BUILT_DAY - timedelta(days=5))
    refused = bitso(built_url, "ask", "active-users", "--day", str(world.LAST_BUILT_DAY))
    assert refused.exit_code == 1
    suggested = re.search(r"`bitso (build [^`]+)`", refused.output)
    assert suggested, refused.output
    assert suggested[1] == (
        f"build --from {world.LAST_BUILT_DAY - timedelta(days=4)} --to {world.LAST_BUILT_DAY}"
    )
    built = bitso(built_url, *suggested[1].split())
    assert built.exit_code == 0, built.output
    answered = bitso(built_url, "ask", "active-users", "--day", str(world.LAST_BUILT_DAY))
    assert answered.exit_code == 0, answered.output


def test_ask_before_the_first_partition_says_why_instead_of_a_build_that_fails(
    bitso, built_url: str
) -> None:
    result = bitso(built_url, "ask", "active-users", "--day", "2019-01-01")
    assert result.exit_code == 1
    assert "before the first daily partition 2020-01-01" in result.output
    assert "bitso build" not in result.output
    future = bitso(built_url, "ask", "active-users", "--day", "9999-12-31")
    assert future.exit_code == 2
    assert "is after today" in future.output


def test_build_shows_the_marts_done_as_plain_lines_while_it_runs(bitso, built_url: str) -> None:
    last = DAY + timedelta(days=2)
    result = bitso(built_url, "build", "--from", DAY.isoformat(), "--to", last.isoformat())
    assert result.exit_code == 0, result.output

    done = [line for line in result.stderr.splitlines() if line.startswith("marts done")]
    marts = len([line for line in result.stdout.splitlines() if line.startswith("marts/")])
    assert len(done) == marts > 1
    for count, line in enumerate(done, start=1):
        assert re.fullmatch(rf"marts done {count} of {marts} \(3 days each\), last marts/\w+", line)
    assert "\r" not in result.stderr  # plain lines: stderr is not a terminal


def test_ask_answers_q2_and_q3_from_sql_without_loading_the_deposit_history(
    monkeypatch: pytest.MonkeyPatch, bitso, built_url: str
) -> None:
    """One process, one question: loading every user's deposits would cost more than it."""
    from bitso_platform import deposit_history

    with psycopg.connect(built_url) as conn:
        expected = {
            "users-without-deposit": questions.users_without_deposit(conn),
            "frequent-depositors": questions.frequent_depositors(conn, DAY, 1),
        }

    def refuse(_conn: psycopg.Connection) -> None:
        raise AssertionError("bitso ask loaded the deposit history")

    deposit_history.forget()
    monkeypatch.setattr(deposit_history, "_load", refuse)
    asked = {
        "users-without-deposit": ("ask", "users-without-deposit"),
        "frequent-depositors": (
            "ask",
            "frequent-depositors",
            "--day",
            str(DAY),
            "--more-than",
            "1",
        ),
    }
    for name, args in asked.items():
        result = bitso(built_url, *args, "--format", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["answer"] == expected[name], name
    assert bitso(built_url, "ask", "all", "--day", str(DAY)).exit_code == 0
