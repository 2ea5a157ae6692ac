"""Argument types of the `bitso` commands: each refuses what it cannot mean with a usage
error (exit code 2) that says what is allowed, so no input reaches the code unchecked."""

import re
from datetime import UTC, date, datetime

import click

DAY_FORMAT = "%Y-%m-%d"
USER_ID = re.compile(r"[0-9a-fA-F]{32}")
CURRENCY = re.compile(r"[a-z0-9]{2,12}")


class Day(click.ParamType):
    """A UTC calendar day written YYYY-MM-DD; with `up_to_today`, not after today (UTC)."""

    name = "DAY"

    def __init__(self, *, up_to_today: bool = False) -> None:
        self.up_to_today = up_to_today

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> date:
        if isinstance(value, date):
            return value
        try:
            day = datetime.strptime(str(value), DAY_FORMAT).date()
        except ValueError:
            self.fail(f"{value!r} is not a day: write it like 2021-02-19", param, ctx)
        today = datetime.now(UTC).date()
        if self.up_to_today and day > today:
            self.fail(f"{day} is after today ({today}, UTC): no data is dated after it", param, ctx)
        return day


class UserId(click.ParamType):
    """A user id of the users snapshot: 32 hexadecimal characters (surrounding spaces trimmed)."""

    name = "USER"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        user_id = str(value).strip()
        if not USER_ID.fullmatch(user_id):
            self.fail(f"{_shown(value)} is not a user id: 32 hexadecimal characters", param, ctx)
        return user_id


class Currency(click.ParamType):
    """A currency code: 2-12 letters or digits, trimmed and lower-cased like the snapshots'."""

    name = "CURRENCY"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        currency = str(value).strip().lower()
        if not CURRENCY.fullmatch(currency):
            self.fail(
                f"{_shown(value)} is not a currency code: 2 to 12 letters or digits, e.g. mxn",
                param,
                ctx,
            )
        return currency


def _shown(value: object, limit: int = 40) -> str:
    """The value as a message quotes it: escaped, and cut when long."""
    text = ascii(str(value))
    if len(text) <= limit:
        return text
    return f"{text[: limit - 4]}...{text[-1]} ({len(str(value)):,} characters)"


def format_option(*formats: str) -> click.Option:
    """`--format` among `formats` (the first is the default), into `output_format`."""
    scripts = " or ".join(name.upper() for name in formats[1:])
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(list(formats)),
        default=formats[0],
        show_default=True,
        help=f"A table for people; {scripts} for scripts.",
    )
