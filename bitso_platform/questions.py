"""The eight questions of SPEC 4, answered from the marts (semantics: SPEC 3).

Each function takes an open psycopg connection (or the Warehouse, which opens one) and
returns plain Python values: counts as `int`, user ids and currencies as sorted `list[str]`,
instants as ISO-8601 UTC strings, amounts as exact `Decimal`. The SQL is in
`sql/questions/<name>.sql`; Q2 and Q3, whose answers are long lists, come from the deposit
history in memory (bitso_platform.deposit_history), equal to their SQL: loading it costs
several answers from SQL, so a process that asks once (`bitso ask`) asks the SQL instead.
A question first makes sure the marts are built for every day it reads and raises
`MartsNotBuilt`, saying what to run (a command that works) or why no build can cover those
days, rather than answer from missing days. Q4 without a day is the latest login of the
loaded data (core.logins), not of the last built day.

Nothing here imports Dagster or numpy until it needs them: `bitso ask` answers in a fraction
of a second.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias

import psycopg
import psycopg.errors

from bitso_platform.sql import load_sql

if TYPE_CHECKING:
    from bitso_platform.deposit_history import DepositHistory
    from bitso_platform.resources.warehouse import Warehouse

Source: TypeAlias = "psycopg.Connection | Warehouse"

MAX_ORDINAL = 2**63 - 1  # marts.deposit_ordinals.ordinal is a bigint

# Marketing's segments (marts.user_segments; rules in docs/marts.md).
SEGMENTS = ("never_deposited", "dormant", "new_this_week", "high_value")


class MartsNotBuilt(LookupError):
    """The marts do not cover the days a question reads; the message says what to run."""


@dataclass(frozen=True)
class Built:
    """The days the marts are built for, and how many of a requested range are."""

    first_day: date
    last_day: date
    built_days: int


def active_users(source: Source, day: date) -> int:
    """Q1: distinct users with at least one counted deposit or withdrawal on `day`."""
    with _connection(source) as conn:
        _require_days(conn, day, day)
        return int(_value(conn, "active_users", {"day": day}))


def users_without_deposit(
    source: Source, as_of: date | None = None, *, in_memory: bool = True
) -> list[str]:
    """Q2: clean users without a counted deposit on or before `as_of` (None: the last built
    day), sorted.

    Answered from the in-memory deposit history (bitso_platform.deposit_history), or with
    `in_memory=False` by sql/questions/users_without_deposit.sql: the same answer.
    """
    with _connection(source) as conn:
        last = _require_history(conn, as_of)
        if not in_memory:
            return _id_list(conn, "users_without_deposit", {"as_of": last})
        return _deposits(conn).without_deposit(last)


def frequent_depositors(
    source: Source, day: date, more_than: int = 5, *, in_memory: bool = True
) -> list[str]:
    """Q3: users with more than `more_than` counted deposits dated on or before `day`, sorted.

    Answered like Q2, by sql/questions/frequent_depositors.sql with `in_memory=False`.
    """
    if more_than < 0:
        raise ValueError(f"more_than must be 0 or more, not {more_than}")
    with _connection(source) as conn:
        _require_history(conn, day)
        if not in_memory:
            if more_than >= MAX_ORDINAL:  # no user has more deposits than a bigint counts
                return []
            return _id_list(conn, "frequent_depositors", {"day": day, "more_than": more_than})
        return _deposits(conn).more_than(more_than, day)


def last_login(source: Source, user_id: str, as_of: date | None = None) -> str | None:
    """Q4: the user's latest login as of the end of `as_of`, ISO-8601 UTC, or None.

    Without `as_of`, the latest login of the loaded data (core.logins), which may be later
    than the last day the marts are built for.
    """
    with _connection(source) as conn:
        if as_of is None:
            instant = _loaded_value(conn, "latest_login", {"user_id": user_id.strip()})
        else:
            _require_history(conn, as_of)
            instant = _value(conn, "last_login", {"user_id": user_id.strip(), "as_of": as_of})
    return _iso_utc(instant) if instant is not None else None


def login_count(source: Source, user_id: str, from_day: date, to_day: date) -> int:
    """Q5: the user's logins dated from `from_day` to `to_day`, both inclusive."""
    if from_day > to_day:
        raise ValueError(f"from_day {from_day} is after to_day {to_day}")
    with _connection(source) as conn:
        _require_days(conn, from_day, to_day)
        params = {"user_id": user_id.strip(), "from_day": from_day, "to_day": to_day}
        return int(_value(conn, "login_count", params))


def currencies_deposited(source: Source, day: date) -> list[str]:
    """Q6: distinct currencies of the counted deposits on `day`, sorted."""
    with _connection(source) as conn:
        _require_days(conn, day, day)
        return _column(conn, "currencies_deposited", {"day": day})


def currencies_withdrawn(source: Source, day: date) -> list[str]:
    """Q7: distinct currencies of the counted withdrawals on `day`, sorted."""
    with _connection(source) as conn:
        _require_days(conn, day, day)
        return _column(conn, "currencies_withdrawn", {"day": day})


def amount_deposited(source: Source, currency: str, day: date) -> Decimal:
    """Q8: exact total of the counted deposits of `currency` on `day`; 0 when none."""
    with _connection(source) as conn:
        _require_days(conn, day, day)
        return Decimal(_value(conn, "amount_deposited", {"currency": currency, "day": day}))


def segment(source: Source, name: str, day: date) -> list[str]:
    """Users in the segment `name` as of the end of `day` (marts.user_segments), sorted."""
    if name not in SEGMENTS:
        raise ValueError(f"unknown segment {name!r}: one of {', '.join(SEGMENTS)}")
    with _connection(source) as conn:
        _require_history(conn, day)
        # The view's plan is a few index probes per user; compiling it would cost more.
        conn.execute("set local jit = off")
        return _column(conn, "segment", {"name": name, "day": day})


def user_level(source: Source, user_id: str, day: date) -> tuple[str, str] | None:
    """The user's (level, jurisdiction) as of the end of `day` (core.user_levels), or None."""
    with _connection(source) as conn:
        row = conn.execute(
            load_sql("questions/user_level"), {"user_id": user_id.strip(), "day": day}
        ).fetchone()
    return (row[0], row[1]) if row else None


def is_known_user(conn: psycopg.Connection, user_id: str) -> bool:
    """Whether `user_id` is a clean user of the loaded users snapshot (core.users)."""
    return bool(_loaded_value(conn, "known_user", {"user_id": user_id.strip()}))


def is_known_currency(conn: psycopg.Connection, currency: str) -> bool:
    """Whether a clean transaction of the loaded snapshots has `currency` (core.currencies)."""
    return bool(_loaded_value(conn, "known_currency", {"currency": currency}))


def last_deposit_day(conn: psycopg.Connection) -> date | None:
    """The day of the latest counted deposit of the loaded data (None: no deposit)."""
    return _loaded_value(conn, "last_deposit_day", {})


def sample_user(conn: psycopg.Connection, day: date) -> str | None:
    """A user to show Q4 and Q5 for: the last to log in on or before `day` (None: nobody)."""
    return _value(conn, "sample_user", {"day": day})


def built(conn: psycopg.Connection, from_day: date | None, to_day: date | None) -> Built:
    """The built days of the marts; raises MartsNotBuilt when there are none."""
    try:
        row = conn.execute(
            load_sql("questions/built_days"), {"from_day": from_day, "to_day": to_day}
        ).fetchone()
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        raise MartsNotBuilt(_nothing_built(conn)) from None
    if not row or row[0] is None:
        raise MartsNotBuilt("the marts hold no day yet: run `bitso build`")
    return Built(*row)


def _require_days(conn: psycopg.Connection, first: date, last: date) -> None:
    """Every day first..last is built."""
    coverage = built(conn, first, last)
    if coverage.built_days != (last - first).days + 1:
        raise MartsNotBuilt(_not_covered(conn, coverage, first, last))


def _require_history(conn: psycopg.Connection, as_of: date | None) -> date:
    """Every day from the first built one through `as_of` (None: the last built) is built;
    returns that last day."""
    coverage = built(conn, None, as_of)
    last = as_of or coverage.last_day
    first = min(coverage.first_day, last)
    if coverage.built_days != (last - first).days + 1:
        raise MartsNotBuilt(_not_covered(conn, coverage, first, last))
    return last


def _not_covered(conn: psycopg.Connection, coverage: Built, first: date, last: date) -> str:
    """Why the days first..last cannot be answered, with a build command that will work: it
    starts at the first unbuilt day, so the running totals (balances, deposit ordinals) find
    every earlier day built."""
    # Only this refusal needs the partitions (and so Dagster): answers stay fast.
    from bitso_platform.defs.marts.partitions import partitions_start

    span = str(first) if first == last else f"{first}..{last}"
    start, today = partitions_start(), datetime.now(UTC).date()
    if last > today:
        return f"{span} reaches past today ({today}, UTC): no later day can be built"
    if first < start:
        return (
            f"{span} starts before the first daily partition {start}: the marts hold no "
            "earlier day (BITSO_PARTITIONS_START sets the first)"
        )
    from_day = _value(conn, "first_unbuilt_day", {"start": start, "last": last})
    return (
        f"the marts are not built for every day of {span} (built days span "
        f"{coverage.first_day}..{coverage.last_day}): run "
        f"`bitso build --from {from_day} --to {last}`"
    )


def _nothing_built(conn: psycopg.Connection) -> str:
    loaded = conn.execute("select to_regclass('core.users') is not null").fetchone()
    if loaded and loaded[0]:
        return "the marts are not built yet: run `bitso build`"
    return "nothing loaded yet: run `bitso load` first, then `bitso build`"


@contextmanager
def _connection(source: Source) -> Iterator[psycopg.Connection]:
    if isinstance(source, psycopg.Connection):
        yield source
    else:
        with source.connection() as conn:
            yield conn


def _value(conn: psycopg.Connection, name: str, params: dict[str, Any]) -> Any:
    row = conn.execute(load_sql(f"questions/{name}"), params).fetchone()
    return row[0] if row else None


def _loaded_value(conn: psycopg.Connection, name: str, params: dict[str, Any]) -> Any:
    """A value read from core, which exists once something is loaded."""
    try:
        return _value(conn, name, params)
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        raise MartsNotBuilt("nothing loaded yet: run `bitso load` first") from None


def _column(conn: psycopg.Connection, name: str, params: dict[str, Any]) -> list[str]:
    return [row[0] for row in conn.execute(load_sql(f"questions/{name}"), params)]


def _id_list(conn: psycopg.Connection, name: str, params: dict[str, Any]) -> list[str]:
    """The user ids of a question whose SQL answers them as one newline-separated value."""
    row = conn.execute(load_sql(f"questions/{name}"), params).fetchone()
    return row[0].split("\n") if row and row[0] else []


def _deposits(conn: psycopg.Connection) -> "DepositHistory":
    from bitso_platform.deposit_history import deposit_history  # numpy: only Q2 and Q3 need it

    try:
        return deposit_history(conn)
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        raise MartsNotBuilt("the marts predate marts.refreshes: run `bitso build`") from None


def _iso_utc(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="microseconds")
