"""Q2 and Q3 answered in memory: every clean user with the days of its counted deposits.

Their answers are lists of user ids, up to every user (257k at scale 10). Postgres needs
~80 ms to walk such a list and the client ~7 ms more just to make its strings, so these two
questions read, per warehouse and role, a history loaded once from core.users and
marts.deposit_ordinals: the user ids in answer (code point) order, as strings made once,
and each user's deposit days in ordinal order, as arrays. An answer is then a vectorized
filter that picks existing strings (a few milliseconds). Every call first reads a stamp
(sql/questions/deposit_history_stamp.sql) that changes with each load of core.users and each
rebuild of marts.deposit_ordinals; a history with another stamp is loaded again, so an
answer is never older than the marts.
"""

import threading
from dataclasses import dataclass
from datetime import date
from itertools import compress

import numpy as np
import psycopg

from bitso_platform.sql import load_sql

EPOCH = date(1970, 1, 1)
NEVER = np.iinfo(np.int32).max  # the day of a deposit that has not happened
BIG_ENDIAN_INT32 = np.dtype(">i4")

Stamp = tuple[object, ...]


@dataclass(frozen=True, eq=False)
class DepositHistory:
    """Users in answer order; user i's deposit days are days[starts[i]:starts[i] + counts[i]]."""

    stamp: Stamp
    user_ids: list[str]  # sorted by code point
    user_id_array: np.ndarray  # the same strings, as an array of objects
    counts: np.ndarray  # int64 per user
    starts: np.ndarray  # int64 per user
    days: np.ndarray  # int32, days since 1970-01-01, per user in ordinal order
    first_days: np.ndarray  # int32 per user: its first deposit's day (NEVER: none), for Q2

    @classmethod
    def of(
        cls, stamp: Stamp, user_ids: list[str], ordinals: bytes, days: bytes
    ) -> "DepositHistory":
        """From sql/questions/deposit_history.sql: per joined row (a user's deposit, or its one
        row without any) its ordinal (0: none) and day; a user's first row has ordinal <= 1."""
        ordinal = np.frombuffer(ordinals, BIG_ENDIAN_INT32)
        user_of_row = np.cumsum(ordinal <= 1) - 1
        if len(user_ids) != (user_of_row[-1] + 1 if len(ordinal) else 0):
            raise ValueError("the deposit history has not one first row per user")
        deposit = ordinal > 0
        counts = np.bincount(user_of_row[deposit], minlength=len(user_ids))
        starts = np.cumsum(counts) - counts
        deposit_days = np.frombuffer(days, BIG_ENDIAN_INT32)[deposit].astype(np.int32)
        return cls(
            stamp=stamp,
            user_ids=user_ids,
            user_id_array=np.array(user_ids, dtype=object),
            counts=counts,
            starts=starts,
            days=deposit_days,
            first_days=_nth_days(counts, starts, deposit_days, 0),
        )

    def without_deposit(self, as_of: date | None) -> list[str]:
        """Users whose first deposit is after `as_of` (None: who never deposited)."""
        day = NEVER - 1 if as_of is None else _day(as_of)
        return self._pick(self.first_days > day)

    def more_than(self, deposits: int, day: date) -> list[str]:
        """Users whose deposit number `deposits` + 1 is dated on or before `day`."""
        return self._pick(self.nth_deposit_day(deposits) <= _day(day))

    def nth_deposit_day(self, n: int) -> np.ndarray:
        """Per user, the day of its deposit with ordinal n + 1, NEVER when it has fewer."""
        return _nth_days(self.counts, self.starts, self.days, n)

    def _pick(self, mask: np.ndarray) -> list[str]:
        """The user ids where mask is true, as the existing strings. A dense pick walks the
        list once; a sparse one indexes the array and touches only what it picks."""
        if np.count_nonzero(mask) * 4 > len(mask):
            return list(compress(self.user_ids, mask.tobytes()))
        return self.user_id_array[mask].tolist()


def _nth_days(counts: np.ndarray, starts: np.ndarray, days: np.ndarray, n: int) -> np.ndarray:
    if n >= len(days):  # nobody has more deposits than there are; n may not even fit int64
        return np.full(len(counts), NEVER, dtype=np.int32)
    nth = days[np.minimum(starts + n, len(days) - 1)]  # clipped: masked out below
    return np.where(counts > n, nth, NEVER)


_histories: dict[tuple[object, ...], DepositHistory] = {}
_lock = threading.Lock()


def deposit_history(conn: psycopg.Connection) -> DepositHistory:
    """The current history of the connection's warehouse, loaded again when it changed."""
    stamp = _stamp(conn)
    place = (conn.info.host, conn.info.port, conn.info.dbname, conn.info.user)
    with _lock:
        history = _histories.get(place)
        if history is None or history.stamp != stamp:
            history = _histories[place] = _load(conn)
    return history


def forget() -> None:
    """Drop every loaded history (the next answers load theirs again)."""
    with _lock:
        _histories.clear()


def _load(conn: psycopg.Connection) -> DepositHistory:
    """The history and its stamp in one statement, so both come from one snapshot."""
    stamp_sql, history_sql = (
        load_sql("questions/deposit_history_stamp"),
        load_sql("questions/deposit_history"),
    )
    query = f"select * from ({stamp_sql}) as stamp, ({history_sql}) as history"
    with conn.transaction():
        conn.execute("set local jit = off")  # compiling this plan costs more than it saves
        row = conn.execute(query, binary=True).fetchone()
    if row is None:
        raise LookupError("the deposit history query returned no row")
    *stamp, user_ids, ordinals, days = row
    return DepositHistory.of(tuple(stamp), user_ids.split("\n") if user_ids else [], ordinals, days)


def _stamp(conn: psycopg.Connection) -> Stamp:
    row = conn.execute(load_sql("questions/deposit_history_stamp"), binary=True).fetchone()
    return tuple(row) if row else ()


def _day(day: date) -> int:
    return (day - EPOCH).days
