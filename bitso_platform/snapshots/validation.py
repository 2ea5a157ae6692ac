"""SPEC 2 validation as set-based DuckDB SQL over the staged `lines` and `quoted` tables.

Every non-blank line is grouped with its exact copies (same field values) in
`distinct_rows`; each distinct row then gets one verdict: clean, or the first reason of
SPEC 2 rule 6 that applies. Verdicts are streamed (`verdict_batches`) so that clean rows
can go to Postgres while the rest are still being judged. Only rule 7 needs other rows:
the keys of rows that stream out clean are kept (`clean_keys`); once all have streamed,
`reject_conflicting` names those whose key repeats (rare), which the loader takes back
out within the same transaction.
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
    """Group exact copies into `distinct_rows`; create the tables verdicts are kept in."""
    db.execute("set TimeZone = 'UTC'")
    db.execute(load_sql("validate/macros"))
    db.execute(_distinct_rows_sql(_has_quoted(db)))
    key_type = "varchar" if snapshot.key and snapshot.key.kind is Kind.USER_KEY else "bigint"
    db.execute(
        "create or replace table rejected (line_no bigint, reason varchar);"
        f" create or replace table clean_keys (key_value {key_type}, source_line bigint)"
    )


def verdict_batches(
    db: duckdb.DuckDBPyConnection, snapshot: Snapshot, batch_rows: int
) -> pa.RecordBatchReader:
    """Per distinct row: normalised values, source_line, reason (null = clean), key_value."""
    return db.sql(_verdicts_sql(snapshot, _has_quoted(db))).to_arrow_reader(batch_rows)


def reject_conflicting(db: duckdb.DuckDBPyConnection) -> pa.Table:
    """Reject the clean rows whose key repeats (rule 7); their source lines."""
    db.execute("""
        create or replace table conflicting as
        select source_line from clean_keys
        where key_value in (
            select key_value from clean_keys group by key_value having count(*) > 1
        );
        insert into rejected select source_line, 'conflicting_duplicate_id' from conflicting;
    """)
    return db.sql("select source_line from conflicting").to_arrow_table()


def account(
    db: duckdb.DuckDBPyConnection, snapshot: Snapshot, *, source: str, rows_read: int, clean: int
) -> Accounting:
    """The accounting once every verdict is known."""
    # distinct_rows covers every non-blank line once per copy; the rest are blank
    [(non_blank, distinct)] = db.execute(
        "select coalesce(sum(copies), 0), count(*) from distinct_rows"
    ).fetchall()
    by_reason = dict(db.execute("select reason, count(*) from rejected group by all").fetchall())
    return Accounting(
        snapshot=snapshot.name,
        source=source,
        rows_read=rows_read,
        clean=clean,
        quarantined={r: by_reason[r] for r in REASONS if r in by_reason},
        exact_duplicates=int(non_blank - distinct),
        blank=rows_read - int(non_blank),
    )


QUARANTINE_SQL = """
select rejected.line_no, rejected.reason, lines.line as raw_line
from rejected
join lines using (line_no)
"""


def _has_quoted(db: duckdb.DuckDBPyConnection) -> bool:
    [(has_quoted,)] = db.execute("select count(*) > 0 from quoted").fetchall()
    return bool(has_quoted)


def _distinct_rows_sql(has_quoted: bool) -> str:
    """One row per distinct field content: its first line, content and number of copies.

    Copies have the same field values: for a line without quotes that is the same
    text; a quoted line is keyed by its canonical text (`"a",b` is keyed `a,b`).
    """
    content = "coalesce(quoted.key, lines.line)" if has_quoted else "lines.line"
    return f"""
create or replace table distinct_rows as
select {content} as content, min(lines.line_no) as line_no, count(*) as copies
from lines
{"left join quoted using (line_no)" if has_quoted else ""}
where not is_blank(lines.line)
group by {content}
"""


def _fields_sql(has_quoted: bool) -> str:
    """Distinct rows with their raw field values (a quoted line's come from the csv parse)."""
    if not has_quoted:
        return """
    select line_no, false as quote_error, string_split(content, ',') as raw_fields,
        needs_strip(content) as needs_strip
    from distinct_rows"""
    return """
    select
        line_no,
        coalesce(quoted.quote_error, false) as quote_error,
        coalesce(quoted.fields, string_split(content, ',')) as raw_fields,
        needs_strip(content) as needs_strip
    from distinct_rows
    left join quoted using (line_no)"""


def _key_value(snapshot: Snapshot) -> str:
    """The rule 7 key of a row (ids compare as numbers); null for files without one."""
    key = snapshot.key
    if key is None:
        return "null::bigint"
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
with fielded as ({_fields_sql(has_quoted)}
),
valued as (
    select
        line_no,
        quote_error,
        len(raw_fields) as field_count,
        {values}
    from fielded
),
checked as (
    select *, {_reason_case(snapshot)} as reason
    from (select *{instants} from valued)
)
select
    {clean_values},
    line_no as source_line,
    reason,
    {_key_value(snapshot)} as key_value
from checked
"""


def _reason_case(snapshot: Snapshot) -> str:
    """SPEC 2 rule 6 up to unknown_user; the first match wins."""
    columns = snapshot.columns
    whens = [
        f"when quote_error or field_count <> {len(columns)} then 'malformed_row'",
        "when " + " or ".join(f"{c.target} = ''" for c in columns) + " then 'missing_field'",
    ]
    for c in snapshot.of_kind(Kind.ID):
        whens.append(
            f"when not regexp_full_match({c.target}, '[+-]?[0-9]+')"
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
        whens.append(f"when not is_number({c.target}) then 'bad_amount'")
    for c in snapshot.of_kind(Kind.AMOUNT):
        whens.append(f"when is_non_positive({c.target}) then 'non_positive_amount'")
    for c in snapshot.of_kind(Kind.USER_REF):
        whens.append(
            f"when {c.target} not in (select user_id from clean_users) then 'unknown_user'"
        )
    return "case\n        " + "\n        ".join(whens) + "\n    end"


def _clean_value(column: Column) -> str:
    """The normalised value (rule 8); null where the row is rejected for that column."""
    match column.kind:
        case Kind.ID:
            return f"try_cast({column.target} as bigint) as {column.target}"
        case Kind.LOWER:
            return f"lower({column.target}) as {column.target}"
        case Kind.TIMESTAMP:
            return f"{column.target}__utc as {column.target}"
        case _:
            return column.target
