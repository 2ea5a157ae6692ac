"""Every `bitso ask` option is range-checked: any value gives an answer or a clear message.

Each option gets extreme values (huge and negative numbers, far days, empty, long and odd
strings) on a built world; none may end in a traceback.
"""

import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from bitso_platform.cli import main
from bitso_platform_tests.marts import world

DAY = str(world.BURST_DAY)
USER = world.HEAVY

WIDE_DAY = "\uff12\uff10\uff12\uff11-\uff10\uff12-\uff11\uff19"  # 2021-02-19 in full-width digits
DAYS = [
    *("9999-12-31", "0001-01-01", "2019-12-31", "2021-02-30", "2021-2-19x", WIDE_DAY),
    *("", " ", "-1", "x" * 100_000, "2021-02-19\x00", "\udcff"),
]
COUNTS = ["99999999999999999999999", "9223372036854775807", "-1", "-99999999999999999999"]
COUNTS += ["0", "1e3", "", "five", "5.5"]
TEXTS = [
    *("", " ", "x" * 100_000, "\x00", "\u2028", "mx\u2028n", "mxn');drop table raw.users;--"),
    *("f" * 31, "F" * 32, f" {USER} ", "\u00e4" * 32, "\udcff", "0x" + "f" * 30, "MXN", "btc"),
]

# Every subcommand of `bitso ask` with valid arguments, and the options to vary.
VALID = {
    "active-users": ({"--day": DAY}, {"--day": DAYS}),
    "users-without-deposit": ({}, {"--as-of": DAYS}),
    "frequent-depositors": (
        {"--day": DAY, "--more-than": "5"},
        {"--day": DAYS, "--more-than": COUNTS},
    ),
    "last-login": ({"--user": USER}, {"--user": TEXTS, "--as-of": DAYS}),
    "login-count": (
        {"--user": USER, "--from": "2020-01-01", "--to": DAY},
        {"--user": TEXTS, "--from": DAYS, "--to": DAYS},
    ),
    "currencies-deposited": ({"--day": DAY}, {"--day": DAYS}),
    "currencies-withdrawn": ({"--day": DAY}, {"--day": DAYS}),
    "amount-deposited": ({"--currency": "mxn", "--day": DAY}, {"--currency": TEXTS, "--day": DAYS}),
    "segment": ({"--name": "dormant", "--day": DAY}, {"--name": TEXTS, "--day": DAYS}),
    "all": ({"--day": DAY}, {"--day": DAYS, "--user": TEXTS, "--currency": TEXTS}),
}
FORMATS = ["xml", "", "JSON", "\x00"]


def cases() -> list[tuple[str, ...]]:
    """Each option's extremes with the other arguments valid, and bad formats everywhere."""
    asked = []
    for command, (valid, extremes) in VALID.items():
        for option, values in extremes.items():
            for value in values:
                args = {**valid, option: value}
                asked.append(("ask", command, *[part for pair in args.items() for part in pair]))
        asked += [("ask", command, *sum(valid.items(), ()), "--format", f) for f in FORMATS]
    return asked


def test_every_ask_option_is_fed_extremes() -> None:
    options = {p.opts[0] for c in main.get_command(None, "ask").commands.values() for p in c.params}  # type: ignore[union-attr]
    assert options == {option for _, extremes in VALID.values() for option in extremes} | {
        "--format"
    }


def test_extreme_arguments_give_an_answer_or_a_clear_message_never_a_traceback(
    monkeypatch: pytest.MonkeyPatch, built_url: str
) -> None:
    monkeypatch.setenv("BITSO_WAREHOUSE_URL", built_url)
    runner = CliRunner()
    outcomes = set()
    for args in cases():
        result = runner.invoke(main, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            args[:2],
            repr(result.exception)[:300],
        )
        assert "Traceback" not in result.output, args[:2]
        assert result.exit_code in (0, 1, 2), args[:2]
        if result.exit_code:
            assert result.output.splitlines()[-1].startswith("Error:"), result.output[-300:]
        outcomes.add(result.exit_code)
    assert outcomes == {0, 1, 2}


def test_more_than_any_number_of_deposits_answers_nobody(
    monkeypatch: pytest.MonkeyPatch, built_url: str
) -> None:
    monkeypatch.setenv("BITSO_WAREHOUSE_URL", built_url)
    args = ["ask", "frequent-depositors", "--day", DAY, "--format", "csv"]
    result = CliRunner().invoke(main, [*args, "--more-than", "99999999999999999999999"])
    assert (result.exit_code, result.output) == (0, "user_id\n")


def test_answering_a_question_imports_neither_dagster_nor_pandas(built_url: str) -> None:
    script = textwrap.dedent(f"""
        import sys
        from bitso_platform.cli import main
        main(["ask", "active-users", "--day", "{DAY}"], standalone_mode=False)
        main(["ask", "amount-deposited", "--currency", "mxn", "--day", "{DAY}"],
             standalone_mode=False)
        loaded = sorted(m for m in ("dagster", "pandas", "numpy") if m in sys.modules)
        print("imported:", loaded)
    """)
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={"BITSO_WAREHOUSE_URL": built_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines()[-1] == "imported: []", result.stderr
    assert "answer" in result.stdout
