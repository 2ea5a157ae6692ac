"""SPEC 2 validation as set-based DuckDB SQL, one block of lines at a time.

Within a block, every non-blank line is grouped with its exact copies (same field values);
each distinct row then gets one verdict: clean, or the first reason of SPEC 2 rule 6 that
applies. Verdicts stream (`judge`), so that clean rows go to Postgres while the file is
still being read. What needs every row waits for the end, from what `keep` keeps: the key
of each clean row and the 64-bit fingerprint of each rejected one. Copies share both, so
`repeats` names the few rows that may be copies across blocks or rule 7's conflicting ids
(clean rows whose key repeats); the loader settles them on their text.
"""

from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

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


def prepare(db: duckdb.DuckDBPyConnection, snapshot: Snapshot) -> None:
    """Create the macros, and the tables that rejected rows and clean keys are kept in."""
    db.execute("set TimeZone = 'UTC'")
    db.execute(load_sql("validate/macros"))
    db.execute(
        "create or replace table rejected"
        " (line_no bigint, reason varchar, raw_line varchar, fingerprint ubigint);"
        f" create or replace table clean_keys (key_value {_key_type(snapshot)}, line_no bigint)"
    )


def judge(db: duckdb.DuckDBPyConnection, snapshot: Snapshot, lines: pa.Table) -> pa.Table:
    """Per distinct row of `lines` (staging.BLOCK_SCHEMA): normalised values, source_line,
    reason (null = clean), key_value, copies (of it in `lines`), fingerprint (a 64-bit hash
    of its field content) and raw_line (set on rejected rows)."""
    has_quoted = lines["content"].null_count < lines.num_rows
    db.register("block", lines)
    try:
        return db.sql(_verdicts_sql(snapshot, has_quoted)).to_arrow_table()
    finally:
        db.unregister("block")


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


def _verdicts_sql(snapshot: Snapshot, has_quoted: bool) -> str:
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
    select *, {_reason_case(snapshot)} as reason
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


def _reason_case(snapshot: Snapshot) -> str:
    """SPEC 2 rule 6 up to unknown_user; the first match wins."""
    columns = snapshot.columns
    whens = [
        f"when quote_error or field_count <> {len(columns)} or has_control(raw_line)"
        " then 'malformed_row'",
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
    for c in snapshot.of_kind(Kind.USER_REF):
        unknown = f"{c.target} not in (select user_id from clean_users)"
        whens.append(
            f"when {unknown} and {c.target} in (select user_id from quarantined_users)"
            " then 'quarantined_user'"
        )
        whens.append(f"when {unknown} then 'unknown_user'")
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
