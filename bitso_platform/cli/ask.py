"""`bitso ask`: the eight questions of SPEC 4 and Marketing's segments, from the marts.

Every subcommand takes `--format table|json|csv`. JSON is one object
`{"question": NAME, "params": {...}, "answer": VALUE}`: a number (amounts exact), an ISO-8601
UTC timestamp or null, or a sorted list.
"""

import csv
import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import click
import psycopg

from bitso_platform import questions
from bitso_platform.cli.marts import Day
from bitso_platform.cli.runtime import configured_resources

Answer = int | str | list[str] | Decimal | None

# Placeholder for an exact decimal in JSON: json.dumps can only write floats.
_DECIMAL_SLOT = "\x00decimal\x00"


@click.group()
def ask() -> None:
    """Answer a question, or list a segment, from the marts (build them with `bitso build`)."""


def _format_option(command: Callable) -> Callable:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["table", "json", "csv"]),
        default="table",
        show_default=True,
        help="A table for people; JSON or CSV for scripts.",
    )(command)


@ask.command("active-users")
@click.option("--day", required=True, type=Day(), help="UTC day D.")
@_format_option
def active_users(day: date, output_format: str) -> None:
    """Q1: users with at least one counted deposit or withdrawal on D."""
    _answer("active-users", {"day": day}, output_format, lambda c: questions.active_users(c, day))


@ask.command("users-without-deposit")
@click.option("--as-of", type=Day(), help="Count deposits on or before this day (default: all).")
@_format_option
def users_without_deposit(as_of: date | None, output_format: str) -> None:
    """Q2: users of the users snapshot without a counted deposit (as of a day)."""
    _answer(
        "users-without-deposit",
        {"as_of": as_of},
        output_format,
        lambda c: questions.users_without_deposit(c, as_of),
    )


@ask.command("frequent-depositors")
@click.option("--day", required=True, type=Day(), help="Count deposits on or before D.")
@click.option("--more-than", default=5, show_default=True, type=click.IntRange(min=0), help="N.")
@_format_option
def frequent_depositors(day: date, more_than: int, output_format: str) -> None:
    """Q3: users with more than N counted deposits dated on or before D."""
    _answer(
        "frequent-depositors",
        {"day": day, "more_than": more_than},
        output_format,
        lambda c: questions.frequent_depositors(c, day, more_than),
    )


@ask.command("last-login")
@click.option("--user", "user_id", required=True, help="User id U.")
@click.option("--as-of", type=Day(), help="Latest login as of the end of this day.")
@_format_option
def last_login(user_id: str, as_of: date | None, output_format: str) -> None:
    """Q4: the user's latest login (ISO-8601 UTC), or null."""
    _answer(
        "last-login",
        {"user": user_id, "as_of": as_of},
        output_format,
        lambda c: questions.last_login(c, user_id, as_of),
    )


@ask.command("login-count")
@click.option("--user", "user_id", required=True, help="User id U.")
@click.option("--from", "from_day", required=True, type=Day(), help="First day D1.")
@click.option("--to", "to_day", required=True, type=Day(), help="Last day D2 (inclusive).")
@_format_option
def login_count(user_id: str, from_day: date, to_day: date, output_format: str) -> None:
    """Q5: the user's logins dated from D1 to D2, both inclusive."""
    if from_day > to_day:
        raise click.BadParameter(f"--from {from_day} is after --to {to_day}")
    _answer(
        "login-count",
        {"user": user_id, "from": from_day, "to": to_day},
        output_format,
        lambda c: questions.login_count(c, user_id, from_day, to_day),
    )


@ask.command("currencies-deposited")
@click.option("--day", required=True, type=Day(), help="UTC day D.")
@_format_option
def currencies_deposited(day: date, output_format: str) -> None:
    """Q6: distinct currencies of the counted deposits on D."""
    _answer(
        "currencies-deposited",
        {"day": day},
        output_format,
        lambda c: questions.currencies_deposited(c, day),
    )


@ask.command("currencies-withdrawn")
@click.option("--day", required=True, type=Day(), help="UTC day D.")
@_format_option
def currencies_withdrawn(day: date, output_format: str) -> None:
    """Q7: distinct currencies of the counted withdrawals on D."""
    _answer(
        "currencies-withdrawn",
        {"day": day},
        output_format,
        lambda c: questions.currencies_withdrawn(c, day),
    )


@ask.command("amount-deposited")
@click.option("--currency", required=True, help="Currency C, e.g. mxn (case-insensitive).")
@click.option("--day", required=True, type=Day(), help="UTC day D.")
@_format_option
def amount_deposited(currency: str, day: date, output_format: str) -> None:
    """Q8: exact total of the counted deposits of C on D; 0 when none."""
    _answer(
        "amount-deposited",
        {"currency": currency.strip().lower(), "day": day},
        output_format,
        lambda c: questions.amount_deposited(c, currency, day),
    )


@ask.command("segment")
@click.option("--name", required=True, type=click.Choice(questions.SEGMENTS), help="Segment N.")
@click.option("--day", required=True, type=Day(), help="As of the end of this UTC day D.")
@_format_option
def segment(name: str, day: date, output_format: str) -> None:
    """Marketing: the users of segment N as of the end of D (rules: docs/marts.md)."""
    _answer(
        "segment",
        {"name": name, "day": day},
        output_format,
        lambda c: questions.segment(c, name, day),
    )


@ask.command("all")
@click.option("--day", required=True, type=Day(), help="UTC day D.")
@click.option(
    "--user",
    "user_id",
    help="User U of Q4 and Q5 (default: the last user to log in on or before D).",
)
@click.option("--currency", default="mxn", show_default=True, help="Currency C of Q8.")
@_format_option
def all_questions(day: date, user_id: str | None, currency: str, output_format: str) -> None:
    """The eight questions for one day D: Q2 and Q4 as of D, Q3 with N = 5, Q5 over the
    30 days to D (from the first built day if later), Q8 for currency C. A table shows
    lists as a count and their first ids; JSON is a list of the eight objects that
    `bitso ask <question> --format json` prints."""
    with _asking() as conn:
        since = max(day - timedelta(days=29), questions.built(conn, None, None).first_day)
        user = user_id or questions.sample_user(conn, day)
        asked = [
            (name, _plain(params), answer(conn))
            for name, params, answer in _eight_questions(day, user, currency, since)
        ]
    if output_format == "json":
        click.echo("[" + ", ".join(render_json(*one) for one in asked) + "]")
    elif output_format == "csv":
        click.echo(render_all_csv(asked))
    else:
        click.echo(render_all_table(asked))


def _eight_questions(
    day: date, user: str | None, currency: str, since: date
) -> list[tuple[str, dict[str, Any], Callable[[psycopg.Connection], Answer]]]:
    user_id = user or ""
    return [
        ("active-users", {"day": day}, lambda c: questions.active_users(c, day)),
        (
            "users-without-deposit",
            {"as_of": day},
            lambda c: questions.users_without_deposit(c, day),
        ),
        (
            "frequent-depositors",
            {"day": day, "more_than": 5},
            lambda c: questions.frequent_depositors(c, day),
        ),
        (
            "last-login",
            {"user": user, "as_of": day},
            lambda c: questions.last_login(c, user_id, day) if user else None,
        ),
        (
            "login-count",
            {"user": user, "from": since, "to": day},
            lambda c: questions.login_count(c, user_id, since, day) if user else 0,
        ),
        ("currencies-deposited", {"day": day}, lambda c: questions.currencies_deposited(c, day)),
        ("currencies-withdrawn", {"day": day}, lambda c: questions.currencies_withdrawn(c, day)),
        (
            "amount-deposited",
            {"currency": currency.strip().lower(), "day": day},
            lambda c: questions.amount_deposited(c, currency, day),
        ),
    ]


def _answer(
    name: str,
    params: dict[str, Any],
    output_format: str,
    question: Callable[[psycopg.Connection], Answer],
) -> None:
    with _asking() as conn:
        answer = question(conn)
    render = {"json": render_json, "csv": render_csv, "table": render_table}[output_format]
    click.echo(render(name, _plain(params), answer))


@contextmanager
def _asking() -> Iterator[psycopg.Connection]:
    """A warehouse connection; what goes wrong becomes a message saying what to do."""
    try:
        with configured_resources() as resources, resources.warehouse.connection() as conn:
            yield conn
    except questions.MartsNotBuilt as error:
        raise click.ClickException(str(error)) from None
    except psycopg.OperationalError as error:
        raise click.ClickException(
            f"cannot reach the warehouse ({error}): check BITSO_WAREHOUSE_URL"
        ) from None


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, date) else value
        for key, value in params.items()
    }


def render_json(name: str, params: dict[str, Any], answer: Answer) -> str:
    """One JSON object; an exact decimal is written as a JSON number with all its digits."""
    if isinstance(answer, Decimal):
        text = json.dumps({"question": name, "params": params, "answer": _DECIMAL_SLOT})
        return text.replace(json.dumps(_DECIMAL_SLOT), _plain_decimal(answer))
    return json.dumps({"question": name, "params": params, "answer": answer})


def render_csv(name: str, params: dict[str, Any], answer: Answer) -> str:
    """A list: one row per item under its column name; a value: params and answer columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if isinstance(answer, list):
        writer.writerow([_item_name(name)])
        writer.writerows([item] for item in answer)
    else:
        writer.writerow([*params, "answer"])
        writer.writerow([*("" if v is None else v for v in params.values()), _cell(answer)])
    return out.getvalue().rstrip("\n")


def render_table(name: str, params: dict[str, Any], answer: Answer) -> str:
    """Parameters and answer as aligned lines; a list's items follow, one per line."""
    shown = {"question": name, **{k: "-" if v is None else str(v) for k, v in params.items()}}
    if isinstance(answer, list):
        shown["count"] = f"{len(answer):,}"
    else:
        shown["answer"] = "null" if answer is None else _cell(answer)
    width = max(len(key) for key in shown)
    lines = [f"{key.ljust(width)}  {value}" for key, value in shown.items()]
    if isinstance(answer, list) and answer:
        lines += ["", _item_name(name), *answer]
    return "\n".join(lines)


def render_all_table(asked: list[tuple[str, dict[str, Any], Answer]]) -> str:
    """A line per question: its name, parameters and answer (a list: count, first ids)."""
    rows = []
    for number, (name, params, answer) in enumerate(asked, start=1):
        shown = ", ".join(f"{k} {'-' if v is None else v}" for k, v in params.items())
        rows.append((f"Q{number} {name}", shown, _summary(answer)))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(
        f"{name.ljust(widths[0])}  {shown.ljust(widths[1])}  {answer}"
        for name, shown, answer in rows
    )


def render_all_csv(asked: list[tuple[str, dict[str, Any], Answer]]) -> str:
    """A row per question: name, parameters as JSON, answer (a list: its items, space-separated)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["question", "params", "answer"])
    for name, params, answer in asked:
        value = " ".join(answer) if isinstance(answer, list) else _cell(answer)
        writer.writerow([name, json.dumps(params), value])
    return out.getvalue().rstrip("\n")


def _summary(answer: Answer, shown: int = 3) -> str:
    if not isinstance(answer, list):
        return "null" if answer is None else _cell(answer)
    if len(answer) <= shown + 1:
        return ", ".join(answer) if answer else "none"
    return f"{len(answer):,}: {', '.join(answer[:shown])}, ..."


def _item_name(name: str) -> str:
    return "currency" if name.startswith("currencies") else "user_id"


def _cell(answer: Answer) -> str:
    if isinstance(answer, Decimal):
        return _plain_decimal(answer)
    return "" if answer is None else str(answer)


def _plain_decimal(value: Decimal) -> str:
    """All the digits, no exponent, no trailing fractional zeros: 6117760.50, 0, 1e12 as 10^12."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
