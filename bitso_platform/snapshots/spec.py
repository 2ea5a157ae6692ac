"""The input contract of SPEC 2: which files, which columns, what each column must hold."""

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    """How a column is validated and normalised."""

    ID = "id"  # integer row id (64-bit); the key for conflicting_duplicate_id
    USER_KEY = "user_key"  # users file: 32 hex characters; the file's key
    USER_REF = "user_ref"  # must be a clean user (unknown_user)
    TIMESTAMP = "timestamp"  # instant with explicit offset, stored in UTC
    AMOUNT = "amount"  # decimal or scientific, strictly positive, stored as numeric
    CURRENCY = "currency"  # trimmed and lower-cased: 2-12 of [a-z0-9]
    LOWER = "lower"  # trimmed and lower-cased
    TEXT = "text"  # trimmed


@dataclass(frozen=True)
class Column:
    name: str  # header name in the file
    kind: Kind
    target: str  # column name in the raw table


@dataclass(frozen=True)
class Snapshot:
    name: str  # asset / table name, also the key of `bitso quality --format json`
    file: str
    columns: tuple[Column, ...]
    required: bool = True

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def key(self) -> Column | None:
        """The column whose repeated values mean `conflicting_duplicate_id`."""
        return next((c for c in self.columns if c.kind in (Kind.ID, Kind.USER_KEY)), None)

    def of_kind(self, kind: Kind) -> list[Column]:
        return [c for c in self.columns if c.kind is kind]


def _transaction_columns(*middle: Column) -> tuple[Column, ...]:
    return (
        Column("id", Kind.ID, "id"),
        Column("event_timestamp", Kind.TIMESTAMP, "occurred_at"),
        Column("user_id", Kind.USER_REF, "user_id"),
        Column("amount", Kind.AMOUNT, "amount"),
        *middle,
        Column("currency", Kind.CURRENCY, "currency"),
        Column("tx_status", Kind.LOWER, "tx_status"),
    )


USERS = Snapshot("users", "user_id_sample_data.csv", (Column("user_id", Kind.USER_KEY, "user_id"),))
DEPOSITS = Snapshot("deposits", "deposit_sample_data.csv", _transaction_columns())
WITHDRAWALS = Snapshot(
    "withdrawals",
    "withdrawals_sample_data.csv",
    _transaction_columns(Column("interface", Kind.TEXT, "interface")),
)
EVENTS = Snapshot(
    "events",
    "event_sample_data.csv",
    (
        Column("id", Kind.ID, "id"),
        Column("event_timestamp", Kind.TIMESTAMP, "occurred_at"),
        Column("user_id", Kind.USER_REF, "user_id"),
        Column("event_name", Kind.TEXT, "event_name"),
    ),
)
USER_LEVELS = Snapshot(
    "user_levels",
    "user_level_sample_data.csv",
    (
        Column("user_id", Kind.USER_REF, "user_id"),
        Column("jurisdiction", Kind.TEXT, "jurisdiction"),
        Column("level", Kind.TEXT, "level"),
        Column("event_timestamp", Kind.TIMESTAMP, "occurred_at"),
    ),
    required=False,
)

SNAPSHOTS: dict[str, Snapshot] = {
    s.name: s for s in (USERS, DEPOSITS, WITHDRAWALS, EVENTS, USER_LEVELS)
}

# Quarantine reasons in the order SPEC 2 rule 6 applies them (first match wins).
REASONS = (
    "oversized_row",  # longer than the line limit: judged without being read
    "malformed_row",
    "missing_field",
    "bad_id",
    "bad_user_id",
    "bad_timestamp",
    "bad_amount",
    "non_positive_amount",
    "bad_currency",
    "quarantined_user",
    "unknown_user",
    "conflicting_duplicate_id",
)
