"""SPEC 2 validation as set-based DuckDB SQL, one block of lines at a time.

Within a block, every non-blank line is grouped with its exact copies (same field values);
each distinct row then gets one verdict: clean, or the first reason of SPEC 2 rule 6 that
applies. Verdicts stream (`judge`), so that clean rows go to Postgres while the file is
still being read. What needs every row waits for the end, from what `keep` keeps: the key
of each clean row and the 64-bit fingerprint of each rejected one. Copies share both, so
`repeats` names the few rows that may be copies across blocks or rule 7's conflicting ids
(clean rows whose key repeats); the loader settles them on their text.
"""

import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bitso_platform.snapshots.spec import REASONS, Column, Kind, Snapshot
from bitso_platform.sql import load_sql


@dataclass(frozen=True)
class Accounting:
    """Where every line of one snapshot file went."""

    snapshot: str
    source: str
    rows_read: int
    clean: int
    quarantined: dict[str, int] = field(default_factory=dict)
    exact_duplicates: int = 0
    blank: int = 0

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def reconciles(self) -> bool:
        """rows_read = clean + quarantined + exact_duplicates + blank."""
        accounted = self.clean + self.quarantined_total + self.exact_duplicates + self.blank
        return self.rows_read == accounted

    def as_json(self) -> dict[str, object]:
        return {
            "rows_read": self.rows_read,
            "clean": self.clean,
            "quarantined": dict(self.quarantined),
            "exact_duplicates": self.exact_duplicates,
            "blank": self.blank,
        }


# A clean user id is 32 hexadecimal digits (SPEC 2 rule 6, bad_user_id): 32 bytes.
USER_ID_BYTES = 32

_LOWER_HEX = b"0123456789abcdef"
_IS_LOWER_HEX = np.zeros(256, dtype=bool)  # per byte value
_IS_LOWER_HEX[np.frombuffer(_LOWER_HEX, np.uint8)] = True


class Users:
    """What a user reference may point at: the clean user ids and those the users file
    quarantined.

    An id in lower case (all of them, in practice) is kept as the 16 bytes its 32 digits
    spell, as two sorted 64-bit integers: 16 bytes a user, 41 MB for 2.6 million. Ids with
    an upper-case digit are another id than their lower-case spelling (matching is exact), so
    they are kept apart, as text. A block's references are looked up in one binary search
    over the first integers (sorted first, so that it walks the array in order), the second
    deciding: the cost of a block does not depend on the number of users, where a join would
    hash every user again for every block."""

    def __init__(
        self, high: np.ndarray, low: np.ndarray, cased: np.ndarray, quarantined: Sequence[str]
    ) -> None:
        self.high, self.low = high, low  # sorted together, by high then low
        self.cased = cased  # sorted, S32
        self.quarantined = pa.array(quarantined, pa.string())

    @classmethod
    def from_lines(cls, text: bytes, quarantined: Sequence[str] = ()) -> "Users":
        """From newline-terminated ids of 32 bytes each, in any order."""
        return cls.receive([text], text.count(b"\n"), quarantined)

    @classmethod
    def receive(
        cls, chunks: Iterable[bytes], count: int, quarantined: Sequence[str] = ()
    ) -> "Users":
        """`count` newline-terminated ids of 32 bytes from `chunks` (pages of raw.users, cut
        anywhere), packed as they arrive: memory is 16 bytes an id and a chunk."""
        width = USER_ID_BYTES + 1
        packed = np.empty(count, "S16")  # big-endian: byte order is number order
        cased: list[np.ndarray] = []
        received, lower, carry = 0, 0, b""
        for chunk in chunks:
            data = carry + chunk
            whole = len(data) // width
            rows = np.frombuffer(data, np.uint8, whole * width).reshape(whole, width)
            if received + whole > count or not (rows[:, -1] == ord("\n")).all():
                raise ValueError(_NOT_USER_IDS)
            ids = rows[:, :-1]
            in_lower = _in_lower_case(ids)
            taken = int(in_lower.sum())
            packed[lower : lower + taken] = _pack(ids[in_lower]).view("S16").ravel()
            cased.append(ids[~in_lower].copy().view(f"S{USER_ID_BYTES}").ravel())
            received, lower, carry = received + whole, lower + taken, data[whole * width :]
        if carry or received != count:
            raise ValueError(_NOT_USER_IDS)
        packed = packed[:lower]
        packed.sort()  # in place
        halves = packed.view(">u8").reshape(-1, 2)
        high, low = halves[:, 0].astype(np.uint64), halves[:, 1].astype(np.uint64)
        return cls(high, low, np.sort(np.concatenate([np.empty(0, "S32"), *cased])), quarantined)

    def save(self, folder: Path) -> None:
        """Write the users to `folder`, for `mapped`."""
        for name in _SAVED:
            np.save(folder / f"{name}.npy", getattr(self, name))
        (folder / "quarantined.json").write_text(json.dumps(self.quarantined.to_pylist()))

    @classmethod
    def mapped(cls, folder: Path) -> "Users":
        """The users `save` wrote to `folder`, mapped rather than read: their pages stay in
        the page cache, and leave the process with the last reference to them."""
        high, low, cased = (np.load(folder / f"{name}.npy", mmap_mode="r") for name in _SAVED)
        return cls(high, low, cased, json.loads((folder / "quarantined.json").read_text()))

    def contain(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Per value, whether it is a clean user id (a null is not)."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        values = values.cast(pa.binary())
        found = np.zeros(len(values), dtype=bool)
        sized = pc.fill_null(pc.equal(pc.binary_length(values), USER_ID_BYTES), False)
        candidates = np.flatnonzero(sized.to_numpy(zero_copy_only=False))
        if not len(candidates):
            return found
        taken = values.take(pa.array(candidates))  # contiguous: 32 bytes per value
        ids = np.frombuffer(taken.buffers()[2], np.uint8, len(taken) * USER_ID_BYTES)
        ids = ids.reshape(-1, USER_ID_BYTES)
        in_lower = _in_lower_case(ids)
        found[candidates[in_lower]] = self._contain_packed(_pack(ids[in_lower]))
        if not in_lower.all():  # the others are compared as text with the cased ids
            cased = ~in_lower
            found[candidates[cased]] = _contain_sorted(
                self.cased, ids[cased].copy().view(f"S{USER_ID_BYTES}").ravel()
            )
        return found

    def _contain_packed(self, packed: np.ndarray) -> np.ndarray:
        """Per packed id (rows of two big-endian 64-bit integers), whether it is kept."""
        found = np.zeros(len(packed), dtype=bool)
        high, low = packed[:, 0].astype(np.uint64), packed[:, 1].astype(np.uint64)
        order = np.argsort(high)
        high, low = high[order], low[order]
        at = np.searchsorted(self.high, high)
        pending = np.arange(len(order))  # ids sharing their first 8 bytes are stepped through
        while len(pending):
            at_pending = at[pending]
            inside = at_pending < len(self.high)
            pending, at_pending = pending[inside], at_pending[inside]
            same_high = self.high[at_pending] == high[pending]
            pending, at_pending = pending[same_high], at_pending[same_high]
            match = self.low[at_pending] == low[pending]
            found[order[pending[match]]] = True
            pending = pending[~match]
            at[pending] += 1
        return found

    def reasons(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Per value, null for a clean user id, else quarantined_user or unknown_user."""
        unknown = pa.array(~self.contain(values))
        quarantined = pc.is_in(values, value_set=self.quarantined)
        reason = pc.if_else(quarantined, "quarantined_user", "unknown_user")
        return pc.if_else(unknown, reason, pa.scalar(None, pa.string()))


_SAVED = ("high", "low", "cased")  # the arrays `Users.save` writes
_NOT_USER_IDS = (
    "raw.users holds a user_id that is not 32 characters long; "
    "load the users snapshot again (bitso load users)"
)


def _in_lower_case(ids: np.ndarray) -> np.ndarray:
    """Per row of 32 bytes, whether all are lower-case hexadecimal digits."""
    if not ids.tobytes().translate(None, _LOWER_HEX):  # the usual case, in one C pass
        return np.ones(len(ids), dtype=bool)
    return _IS_LOWER_HEX[ids].all(axis=1)


def _pack(ids: np.ndarray) -> np.ndarray:
    """Rows of 32 lower-case hexadecimal digits as rows of the two big-endian 64-bit
    integers they spell."""
    return np.frombuffer(binascii.unhexlify(ids.tobytes()), ">u8").reshape(-1, 2)


def _contain_sorted(kept: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Per value of `wanted`, whether the sorted array `kept` holds it."""
    if not len(kept):
        return np.zeros(len(wanted), dtype=bool)
    at = np.minimum(np.searchsorted(kept, wanted), len(kept) - 1)
    return kept[at] == wanted


def prepare(db: duckdb.DuckDBPyConnection, snapshot: Snapshot) -> None:
    """Create the macros, and the tables that rejected rows and clean keys are kept in."""
    db.execute("set TimeZone = 'UTC'")
    db.execute(load_sql("validate/macros"))
    db.execute(
        "create or replace table rejected"
        " (line_no bigint, reason varchar, raw_line varchar, fingerprint ubigint);"
        f" create or replace table clean_keys (key_value {_key_type(snapshot)}, line_no bigint)"
    )


def judge(
    db: duckdb.DuckDBPyConnection, snapshot: Snapshot, lines: pa.Table, users: Users | None = None
) -> pa.Table:
    """Per distinct row of `lines` (staging.BLOCK_SCHEMA): normalised values, source_line,
    reason (null = clean), key_value, copies (of it in `lines`), fingerprint (a 64-bit hash
    of its field content) and raw_line (set on rejected rows). A snapshot that refers to
    users needs `users`: the last rules (quarantined_user, unknown_user) are theirs."""
    has_quoted = lines["content"].null_count < lines.num_rows
    statement = _verdicts_sql(snapshot, has_quoted, _may_hold_controls(lines["line"]))
    db.register("block", lines)
    try:
        verdicts = db.sql(statement).to_arrow_table()
    finally:
        db.unregister("block")
    for column in snapshot.of_kind(Kind.USER_REF):
        if users is None:
            raise ValueError(f"judging {snapshot.name} needs the clean users")
        verdicts = _judge_references(verdicts, column.target, lines, users)
    return verdicts


# Bytes of a line that is certainly free of control characters: printable ASCII and tab.
_PLAIN_BYTES = b"\t\n" + bytes(range(0x20, 0x7F))


def _may_hold_controls(lines: pa.ChunkedArray) -> bool:
    """Whether a line may hold a control character. Not when every byte of the block's text
    is printable ASCII or a tab (one pass in C, most blocks): then the per-line regular
    expression of rule 6's malformed_row is not run."""
    for chunk in lines.chunks:
        data = chunk.buffers()[2]
        if data is not None and bytes(data).translate(None, _PLAIN_BYTES):
            return True
    return False


def _judge_references(verdicts: pa.Table, column: str, lines: pa.Table, users: Users) -> pa.Table:
    """Rows clean so far whose `column` is not a clean user id get that rule's reason and
    their raw line (from `lines`, numbered consecutively)."""
    open_rows = pc.indices_nonzero(pc.is_null(verdicts["reason"]))
    found = users.reasons(verdicts[column].take(open_rows))
    rejected = pc.is_valid(found)
    if not pc.any(rejected).as_py():
        return verdicts
    rows = pc.filter(open_rows, rejected).to_numpy()
    at_rows = np.zeros(verdicts.num_rows, dtype=bool)
    at_rows[rows] = True
    mask = pa.array(at_rows)
    source = pc.subtract(verdicts["source_line"].take(rows), lines["line_no"][0])
    replaced = {
        "reason": pc.filter(found, rejected),
        "raw_line": lines["line"].take(source),
    }
    for name, values in replaced.items():
        at = verdicts.schema.get_field_index(name)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        merged = pc.replace_with_mask(verdicts[name].combine_chunks(), mask, values)
        verdicts = verdicts.set_column(at, name, merged)
    return verdicts


def keep(db: duckdb.DuckDBPyConnection, verdicts: pa.Table) -> None:
    """Keep the rejected rows and the keys of the clean ones."""
    db.register("verdicts", verdicts)
    try:
        db.execute(
            "insert into rejected select source_line, reason, raw_line, fingerprint"
            " from verdicts where reason is not null;"
            " insert into clean_keys select key_value, source_line"
            " from verdicts where reason is null"
        )
    finally:
        db.unregister("verdicts")


def repeats(db: duckdb.DuckDBPyConnection) -> tuple[list[list[int]], list[list[int]]]:
    """Groups of first lines of distinct rows that may be copies of each other, in file order:
    clean rows sharing a key (or, in a file without one, a fingerprint), and rejected rows
    sharing a fingerprint. Rows of one block are never copies (the block grouped them)."""
    clean = db.execute("""
        select list(line_no order by line_no) from clean_keys
        where key_value in (
            select key_value from clean_keys group by key_value having count(*) > 1
        )
        group by key_value
    """).fetchall()
    rejected = db.execute("""
        select list(line_no order by line_no) from rejected
        group by fingerprint having count(*) > 1
    """).fetchall()
    return [lines for (lines,) in clean], [lines for (lines,) in rejected]


def forget(db: duckdb.DuckDBPyConnection, lines: list[int]) -> None:
    """Take rows that turned out to be copies back out of the rejected rows."""
    db.execute("delete from rejected where line_no in (select unnest($1::bigint[]))", [lines])


def record(db: duckdb.DuckDBPyConnection, reason: str, raw_lines: dict[int, str]) -> None:
    """Quarantine rows settled outside the blocks (rule 7's conflicting rows, oversized
    lines) with their raw text."""
    db.execute(
        "insert into rejected select unnest($1::bigint[]), $2, unnest($3::varchar[]), null",
        [list(raw_lines), reason, list(raw_lines.values())],
    )


def account(
    db: duckdb.DuckDBPyConnection,
    snapshot: Snapshot,
    *,
    source: str,
    rows_read: int,
    non_blank: int,
    distinct: int,
    clean: int,
) -> Accounting:
    """The accounting once every verdict is known (`rejected` holds every quarantined row)."""
    by_reason = dict(db.execute("select reason, count(*) from rejected group by all").fetchall())
    return Accounting(
        snapshot=snapshot.name,
        source=source,
        rows_read=rows_read,
        clean=clean,
        quarantined={r: by_reason[r] for r in REASONS if r in by_reason},
        exact_duplicates=non_blank - distinct,
        blank=rows_read - non_blank,
    )


QUARANTINE_SQL = "select line_no, reason, raw_line from rejected"


def _distinct_rows_sql(has_quoted: bool) -> str:
    """One row per distinct field content of the block: its first line, raw text, copies.

    Copies have the same field values: for a line without quotes that is the same text;
    a quoted line is grouped by its canonical text (`"a",b` with `a,b`).
    """
    if not has_quoted:
        return """
    select
        line as content,
        min(line_no) as line_no,
        count(*) as copies,
        line as raw_line,
        false as quote_error,
        string_split(line, ',') as raw_fields
    from block
    where not is_blank(line)
    group by line"""
    return """
    select
        content,
        line_no,
        copies,
        raw_line,
        coalesce(quote_error, false) as quote_error,
        coalesce(quoted_fields, string_split(content, ',')) as raw_fields
    from (
        select
            coalesce(content, line) as content,
            min(line_no) as line_no,
            count(*) as copies,
            arg_min(line, line_no) as raw_line,
            any_value(fields) as quoted_fields,
            bool_or(quote_error) as quote_error
        from block
        where not is_blank(line)
        group by coalesce(content, line)
    )"""


# A row's fingerprint: a 64-bit hash of its field content. Copies share it; the loader checks
# the text of rows that share one, so a collision is never taken for a copy.
FINGERPRINT = "hash(content)"


def _key_type(snapshot: Snapshot) -> str:
    key = snapshot.key
    if key is None:
        return "ubigint"
    return "varchar" if key.kind is Kind.USER_KEY else "bigint"


def _key_value(snapshot: Snapshot) -> str:
    """What copies of a row share: its rule 7 key (ids compare as numbers), or for a file
    without one, its fingerprint."""
    key = snapshot.key
    if key is None:
        return FINGERPRINT
    return f"try_cast({key.target} as bigint)" if key.kind is Kind.ID else key.target


def _verdicts_sql(snapshot: Snapshot, has_quoted: bool, may_hold_controls: bool) -> str:
    columns = snapshot.columns
    values = ",\n        ".join(
        f"if(needs_strip, strip(raw_fields[{i}]), raw_fields[{i}]) as {c.target}"
        for i, c in enumerate(columns, start=1)
    )
    instants = "".join(
        f", utc_instant({c.target}) as {c.target}__utc" for c in snapshot.of_kind(Kind.TIMESTAMP)
    )
    clean_values = ", ".join(_clean_value(c) for c in columns)
    return f"""
with distinct_rows as ({_distinct_rows_sql(has_quoted)}
),
valued as (
    select
        line_no,
        copies,
        content,
        raw_line,
        quote_error,
        len(raw_fields) as field_count,
        {values}
    from (select *, needs_strip(content) as needs_strip from distinct_rows)
),
checked as (
    select *, {_reason_case(snapshot, may_hold_controls)} as reason
    from (select *{instants} from valued)
)
select
    {clean_values},
    line_no as source_line,
    reason,
    {_key_value(snapshot)} as key_value,
    copies,
    {FINGERPRINT} as fingerprint,
    if(reason is null, null, raw_line) as raw_line
from checked
"""


def _reason_case(snapshot: Snapshot, may_hold_controls: bool) -> str:
    """SPEC 2 rule 6 up to bad_currency (the user rules follow, `Users`); the first match
    wins."""
    columns = snapshot.columns
    control = " or has_control(raw_line)" if may_hold_controls else ""
    whens = [
        f"when quote_error or field_count <> {len(columns)}{control} then 'malformed_row'",
        "when " + " or ".join(f"{c.target} = ''" for c in columns) + " then 'missing_field'",
    ]
    for c in snapshot.of_kind(Kind.ID):
        whens.append(
            f"when not regexp_full_match({c.target}, '[+]?[0-9]+')"
            f" or try_cast({c.target} as bigint) is null then 'bad_id'"
        )
    for c in snapshot.of_kind(Kind.USER_KEY):
        whens.append(
            f"when not regexp_full_match({c.target}, '[0-9a-fA-F]{{32}}') then 'bad_user_id'"
        )
    for c in snapshot.of_kind(Kind.TIMESTAMP):
        instant = f"{c.target}__utc"
        whens.append(
            f"when {instant} is null or year({instant}) not between 1 and 9999 then 'bad_timestamp'"
        )
    for c in snapshot.of_kind(Kind.AMOUNT):
        whens.append(
            f"when not is_number({c.target}) or is_too_large({c.target}) then 'bad_amount'"
        )
    for c in snapshot.of_kind(Kind.AMOUNT):
        whens.append(f"when is_non_positive({c.target}) then 'non_positive_amount'")
    for c in snapshot.of_kind(Kind.CURRENCY):
        whens.append(f"when not is_currency(lower({c.target})) then 'bad_currency'")
    return "case\n        " + "\n        ".join(whens) + "\n    end"


def _clean_value(column: Column) -> str:
    """The normalised value (rule 8); null where the row is rejected for that column."""
    match column.kind:
        case Kind.ID:
            return f"try_cast({column.target} as bigint) as {column.target}"
        case Kind.LOWER | Kind.CURRENCY:
            return f"lower({column.target}) as {column.target}"
        case Kind.TIMESTAMP:
            return f"{column.target}__utc as {column.target}"
        case _:
            return column.target
