"""`bitso ask`: the eight questions of SPEC 4 and Marketing's segments, from the marts.

Every subcommand takes `--format table|json|csv`. JSON is one object
`{"question": NAME, "params": {...}, "answer": VALUE, ...}`: a number (amounts exact), an
ISO-8601 UTC timestamp or null, or a sorted list. Extra keys never change what `answer` means:
`currencies` (Q6, Q7), `known` (false: the user or currency is not in the loaded data),
`answered_as_of` (Q2 without a day: the last built day it is answered as of).

This module imports no Dagster: an answer takes a fraction of a second.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import click
import psycopg

from bitso_platform import questions
from bitso_platform.cli import render
from bitso_platform.cli.params import Currency, Day, UserId, format_option
from bitso_platform.cli.warehouse import unreachable, warehouse_url

Answer = int | str | list[str] | Decimal | None
Question = Callable[[psycopg.Connection], "Asked"]

ASK_DAY = Day(up_to_today=True)  # nothing can be dated after today


@dataclass
class Asked:
    """One answered question: what JSON and CSV print, and sentences a table adds."""

    name: str
    params: dict[str, Any]
    answer: Answer
    extra: dict[str, Any] = field(default_factory=dict)  # more JSON keys beside `answer`
    notes: list[str] = field(default_factory=list)  # said in tables only

    def as_json(self) -> dict[str, Any]:
        return {"question": self.name, "params": self.params, "answer": self.answer, **self.extra}


@click.group()
def ask() -> None:
    """Answer a question, or list a segment, from the marts (build them with `bitso build`)."""


@ask.command("active-users")
@click.option("--day", required=True, type=ASK_DAY, help="UTC day D.")
@format_option("table", "json", "csv")
def active_users(day: date, output_format: str) -> None:
    """Q1: users with at least one counted deposit or withdrawal on D."""
    _print(output_format, lambda c: _active_users(c, day))


@ask.command("users-without-deposit")
@click.option(
    "--as-of",
    type=ASK_DAY,
    help="Count deposits on or before this day (default: through the last built day).",
)
@format_option("table", "json", "csv")
def users_without_deposit(as_of: date | None, output_format: str) -> None:
    """Q2: users of the users snapshot without a counted deposit (as of a day)."""
    _print(output_format, lambda c: _users_without_deposit(c, as_of))


@ask.command("frequent-depositors")
@click.option("--day", required=True, type=ASK_DAY, help="Count deposits on or before D.")
@click.option("--more-than", default=5, show_default=True, type=click.IntRange(min=0), help="N.")
@format_option("table", "json", "csv")
def frequent_depositors(day: date, more_than: int, output_format: str) -> None:
    """Q3: users with more than N counted deposits dated on or before D."""
    _print(output_format, lambda c: _frequent_depositors(c, day, more_than))


@ask.command("last-login")
@click.option("--user", "user_id", required=True, type=UserId(), help="User id U.")
@click.option(
    "--as-of",
    type=ASK_DAY,
    help="Latest login as of the end of this day (default: the latest loaded).",
)
@format_option("table", "json", "csv")
def last_login(user_id: str, as_of: date | None, output_format: str) -> None:
    """Q4: the user's latest login (ISO-8601 UTC), or null."""
    _print(output_format, lambda c: _last_login(c, user_id, as_of))


@ask.command("login-count")
@click.option("--user", "user_id", required=True, type=UserId(), help="User id U.")
@click.option("--from", "from_day", required=True, type=ASK_DAY, help="First day D1.")
@click.option("--to", "to_day", required=True, type=ASK_DAY, help="Last day D2 (inclusive).")
@format_option("table", "json", "csv")
def login_count(user_id: str, from_day: date, to_day: date, output_format: str) -> None:
    """Q5: the user's logins dated from D1 to D2, both inclusive."""
    if from_day > to_day:
        raise click.BadParameter(f"--from {from_day} is after --to {to_day}")
    _print(output_format, lambda c: _login_count(c, user_id, from_day, to_day))


@ask.command("currencies-deposited")
@click.option("--day", required=True, type=ASK_DAY, help="UTC day D.")
@format_option("table", "json", "csv")
def currencies_deposited(day: date, output_format: str) -> None:
    """Q6: the number of distinct currencies of the counted deposits on D (and which)."""
    _print(output_format, lambda c: _currencies(c, "currencies-deposited", day))


@ask.command("currencies-withdrawn")
@click.option("--day", required=True, type=ASK_DAY, help="UTC day D.")
@format_option("table", "json", "csv")
def currencies_withdrawn(day: date, output_format: str) -> None:
    """Q7: the number of distinct currencies of the counted withdrawals on D (and which)."""
    _print(output_format, lambda c: _currencies(c, "currencies-withdrawn", day))


@ask.command("amount-deposited")
@click.option("--currency", required=True, type=Currency(), help="Currency C, e.g. mxn (any case).")
@click.option("--day", required=True, type=ASK_DAY, help="UTC day D.")
@format_option("table", "json", "csv")
def amount_deposited(currency: str, day: date, output_format: str) -> None:
    """Q8: exact total of the counted deposits of C on D; 0 when none."""
    _print(output_format, lambda c: _amount_deposited(c, currency, day))


@ask.command("segment")
@click.option("--name", required=True, type=click.Choice(questions.SEGMENTS), help="Segment N.")
@click.option("--day", required=True, type=ASK_DAY, help="As of the end of this UTC day D.")
@format_option("table", "json", "csv")
def segment(name: str, day: date, output_format: str) -> None:
    """Marketing: the users of segment N as of the end of D (rules: docs/marts.md)."""
    _print(
        output_format,
        lambda c: Asked("segment", {"name": name, "day": day}, questions.segment(c, name, day)),
    )


@ask.command("all")
@click.option("--day", required=True, type=ASK_DAY, help="UTC day D.")
@click.option(
    "--user",
    "user_id",
    type=UserId(),
    help="User U of Q4 and Q5 (default: the last user to log in on or before D).",
)
@click.option(
    "--currency", default="mxn", show_default=True, type=Currency(), help="Currency C of Q8."
)
@format_option("table", "json", "csv")
def all_questions(day: date, user_id: str | None, currency: str, output_format: str) -> None:
    """The eight questions for one day D: Q2 and Q4 as of D, Q3 with N = 5, Q5 over the
    30 days to D (from the first built day if later), Q8 for currency C. A table shows
    lists as a count and their first ids; JSON is a list of the eight objects that
    `bitso ask <question> --format json` prints."""
    with _asking() as conn:
        asked = _eight_answers(conn, day, user_id, currency)
    if output_format == "json":
        click.echo(render.json_text([one.as_json() for one in asked]))
    elif output_format == "csv":
        rows = [(one.name, render.json_text(one.params), one.answer) for one in asked]
        click.echo(render.csv_text(rows, header=("question", "params", "answer")))
    else:
        click.echo(render.table([_all_row(number, one) for number, one in enumerate(asked, 1)]))


def _eight_answers(
    conn: psycopg.Connection, day: date, user_id: str | None, currency: str
) -> list[Asked]:
    first_built = questions.built(conn, None, None).first_day
    # max(day - 29, first_built) without going below the first representable day.
    since = max(day, first_built + timedelta(days=29)) - timedelta(days=29)
    user = user_id or questions.sample_user(conn, day)
    return [
        _active_users(conn, day),
        _users_without_deposit(conn, day),
        _frequent_depositors(conn, day, 5),
        _last_login(conn, user, day),
        _login_count(conn, user, since, day),
        _currencies(conn, "currencies-deposited", day),
        _currencies(conn, "currencies-withdrawn", day),
        _amount_deposited(conn, currency, day),
    ]


def _active_users(conn: psycopg.Connection, day: date) -> Asked:
    return Asked("active-users", {"day": day}, questions.active_users(conn, day))


def _users_without_deposit(conn: psycopg.Connection, as_of: date | None) -> Asked:
    # One process, one or two answers: the SQL costs less than loading the deposit history.
    answer = questions.users_without_deposit(conn, as_of, in_memory=False)
    asked = Asked("users-without-deposit", {"as_of": as_of}, answer)
    if as_of is None:
        _say_last_built_day(conn, asked)
    return asked


def _frequent_depositors(conn: psycopg.Connection, day: date, more_than: int) -> Asked:
    answer = questions.frequent_depositors(conn, day, more_than, in_memory=False)
    return Asked("frequent-depositors", {"day": day, "more_than": more_than}, answer)


def _last_login(conn: psycopg.Connection, user: str | None, as_of: date | None) -> Asked:
    answer = questions.last_login(conn, user, as_of) if user else None
    return _about_user(conn, Asked("last-login", {"user": user, "as_of": as_of}, answer))


def _login_count(conn: psycopg.Connection, user: str | None, first: date, last: date) -> Asked:
    answer = questions.login_count(conn, user, first, last) if user else 0
    return _about_user(
        conn, Asked("login-count", {"user": user, "from": first, "to": last}, answer)
    )


def _currencies(conn: psycopg.Connection, name: str, day: date) -> Asked:
    of_day = {
        "currencies-deposited": questions.currencies_deposited,
        "currencies-withdrawn": questions.currencies_withdrawn,
    }[name]
    currencies = of_day(conn, day)
    return Asked(name, {"day": day}, len(currencies), extra={"currencies": currencies})


def _amount_deposited(conn: psycopg.Connection, currency: str, day: date) -> Asked:
    answer = questions.amount_deposited(conn, currency, day)
    asked = Asked("amount-deposited", {"currency": currency, "day": day}, answer)
    known = questions.is_known_currency(conn, currency)
    asked.extra["known"] = known
    if not known:
        asked.notes.append(f"unknown currency: no loaded transaction is in {currency}")
    return asked


def _about_user(conn: psycopg.Connection, asked: Asked) -> Asked:
    """Flag an answer about a user who is not among the loaded users."""
    user = asked.params["user"]
    if user is not None:
        known = questions.is_known_user(conn, user)
        asked.extra["known"] = known
        if not known:
            asked.notes.append(f"unknown user: {user} is not among the loaded users")
    return asked


def _say_last_built_day(conn: psycopg.Connection, asked: Asked) -> None:
    """Q2 without a day is answered as of the last built day: say which, and when the loaded
    data has later deposits, the build that would take them in."""
    last_built = questions.built(conn, None, None).last_day
    asked.extra["answered_as_of"] = last_built
    last_deposit = questions.last_deposit_day(conn)
    if last_deposit is None or last_deposit <= last_built:
        return
    to_day = min(last_deposit, datetime.now(UTC).date())
    asked.notes.append(
        f"as of {last_built}, the last day the marts are built for; the loaded deposits reach "
        f"{last_deposit}: `bitso build --from {last_built + timedelta(days=1)} --to {to_day}` "
        "takes them in"
    )


def _print(output_format: str, question: Question) -> None:
    with _asking() as conn:
        asked = question(conn)
    writer = {"json": _json, "csv": _csv, "table": _table}[output_format]
    click.echo(writer(asked))


@contextmanager
def _asking() -> Iterator[psycopg.Connection]:
    """A warehouse connection; what goes wrong becomes a message saying what to do."""
    try:
        with psycopg.connect(warehouse_url(), options="-c TimeZone=UTC") as conn:
            yield conn
    except questions.MartsNotBuilt as error:
        raise click.ClickException(str(error)) from None
    except psycopg.OperationalError as error:
        raise unreachable(error) from None


def _json(asked: Asked) -> str:
    return render.json_text(asked.as_json())


def _csv(asked: Asked) -> str:
    """A list: one row per item under its column name; a value: params, answer and extras."""
    if isinstance(asked.answer, list):
        return render.csv_text([[item] for item in asked.answer], header=["user_id"])
    columns = {**asked.params, "answer": asked.answer, **asked.extra}
    return render.csv_text([list(columns.values())], header=list(columns))


def _table(asked: Asked) -> str:
    """Parameters, answer and extras as key and value lines; a list's items follow."""
    lines: list[tuple[str, Any]] = [("question", asked.name), *asked.params.items()]
    if isinstance(asked.answer, list):
        lines.append(("count", len(asked.answer)))
    else:
        lines.append(("answer", "null" if asked.answer is None else asked.answer))
    lines += [*asked.extra.items(), *(("note", note) for note in asked.notes)]
    text = render.table([(key, _shown(value)) for key, value in lines])
    if isinstance(asked.answer, list) and asked.answer:
        text += "\n\n" + "\n".join(["user_id", *asked.answer])
    return text


def _all_row(number: int, asked: Asked) -> tuple[str, str, str]:
    """Q<n> and the question, its parameters, its answer (a list: count and first ids)."""
    params = ", ".join(f"{key} {render.number_text(_shown(v))}" for key, v in asked.params.items())
    answer = asked.answer
    if isinstance(answer, list):
        shown = _first_items(answer)
    elif "currencies" in asked.extra:
        shown = f"{render.number_text(answer)}: {', '.join(asked.extra['currencies']) or 'none'}"
    else:
        shown = "null" if answer is None else render.number_text(answer)
    if asked.extra.get("known") is False:
        shown += f" (unknown {'user' if 'user' in asked.params else 'currency'})"
    return (f"Q{number} {asked.name}", params, shown)


def _first_items(items: list[str], shown: int = 3) -> str:
    if len(items) <= shown + 1:
        return ", ".join(items) if items else "none"
    return f"{len(items):,}: {', '.join(items[:shown])}, ..."


def _shown(value: Any) -> render.Cell:
    """A parameter or extra as a table cell: days as ISO, lists comma-separated."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(value) if value else "none"
    return value
