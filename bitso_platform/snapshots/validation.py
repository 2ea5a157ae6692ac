"""SPEC 2 validation as set-based DuckDB SQL over the staged `lines` and `quoted` tables.

Every non-blank line is grouped with its exact copies (same field values); each
distinct row gets one verdict: clean, or the first reason of SPEC 2 rule 6 that
applies. Table `verdicts` holds one row per distinct row; the accounting follows.
"""

from dataclasses import dataclass, field

import duckdb

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


def validate(
    db: duckdb.DuckDBPyConnection, snapshot: Snapshot, *, source: str, rows_read: int
) -> Accounting:
    """Build `verdicts` from the staged lines (and `clean_users` for user references)."""
    db.execute("set TimeZone = 'UTC'")
    db.execute(load_sql("validate/macros"))
    has_quoted = db.execute("select count(*) > 0 from quoted").fetchone()[0]  # type: ignore[index]
    db.execute(_distinct_rows_sql(has_quoted))
    db.execute(_verdicts_sql(snapshot))
    # distinct_rows covers every non-blank line once per copy; the rest are blank
    non_blank, distinct = db.execute(
        "select coalesce(sum(copies), 0), count(*) from distinct_rows"
    ).fetchone()  # type: ignore[misc]
    by_reason = dict(
        db.execute("select coalesce(reason, ''), count(*) from verdicts group by all").fetchall()
    )
    return Accounting(
        snapshot=snapshot.name,
        source=source,
        rows_read=rows_read,
        clean=by_reason.pop("", 0),
        quarantined={r: by_reason[r] for r in REASONS if r in by_reason},
        exact_duplicates=int(non_blank - distinct),
        blank=rows_read - int(non_blank),
    )


def clean_rows_sql(snapshot: Snapshot) -> str:
    """Clean rows, normalised (rule 8), in the column order of the raw table."""
    values = ", ".join(_clean_value(c) for c in snapshot.columns)
    return f"select {values}, line_no as source_line from verdicts where reason is null"


QUARANTINE_SQL = """
select verdicts.line_no, verdicts.reason, lines.line as raw_line
from verdicts
join lines using (line_no)
where verdicts.reason is not null
"""


def _distinct_rows_sql(has_quoted: bool) -> str:
    """One row per distinct field content: its first line, text key and number of copies.

    Copies have the same field values: for a line without quotes that is the same
    text; a quoted line is keyed by its canonical text (`"a",b` is keyed `a,b`).
    """
    key = "coalesce(quoted.key, lines.line)" if has_quoted else "lines.line"
    join = "left join quoted using (line_no)" if has_quoted else ""
    return f"""
create or replace table distinct_rows as
select {key} as content, min(lines.line_no) as line_no, count(*) as copies
from lines
{join}
where not is_blank(lines.line)
group by {key}
"""


def _verdicts_sql(snapshot: Snapshot) -> str:
    columns = snapshot.columns
    values = ",\n        ".join(
        f"if(needs_strip, strip(raw_fields[{i}]), raw_fields[{i}]) as {c.target}"
        for i, c in enumerate(columns, start=1)
    )
    instants = "".join(
        f", utc_instant({c.target}) as {c.target}__utc" for c in snapshot.of_kind(Kind.TIMESTAMP)
    )
    return f"""
create or replace table checked as
with fielded as (
    select
        line_no,
        coalesce(quoted.quote_error, false) as quote_error,
        coalesce(quoted.fields, string_split(content, ',')) as raw_fields,
        needs_strip(content) as needs_strip
    from distinct_rows
    left join quoted using (line_no)
),
valued as (
    select
        line_no,
        quote_error,
        len(raw_fields) as field_count,
        {values}
    from fielded
),
instants as (
    select *{instants} from valued
)
select *, {_reason_case(snapshot)} as reason from instants;
{_cross_row_checks(snapshot)}
"""


def _reason_case(snapshot: Snapshot) -> str:
    """SPEC 2 rule 6 up to the checks that need other rows; the first match wins."""
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
    return "case\n        " + "\n        ".join(whens) + "\n    end"


def _cross_row_checks(snapshot: Snapshot) -> str:
    """Rules needing other rows, which reject few rows: unknown_user, conflicting_duplicate_id.

    Their rejects go to a small table; `verdicts` is a view that overlays them on `checked`.
    """
    refs = snapshot.of_kind(Kind.USER_REF)
    unknown = (
        f"select line_no from checked where reason is null"
        f" and {refs[0].target} not in (select user_id from clean_users)"
        if refs
        else "select null::bigint as line_no where false"
    )
    key = snapshot.key
    repeated = "select null::bigint as line_no where false"
    if key is not None:
        value = f"try_cast({key.target} as bigint)" if key.kind is Kind.ID else key.target
        repeated = f"""select line_no from checked
    where reason is null
        and line_no not in (select line_no from unknown)
        and {value} in (
            select {value} from checked
            where reason is null and line_no not in (select line_no from unknown)
            group by all
            having count(*) > 1
        )"""
    return f"""
create or replace table cross_rejects as
with unknown as ({unknown})
select line_no, 'unknown_user' as reason from unknown
union all
select line_no, 'conflicting_duplicate_id' as reason from ({repeated});

create or replace view verdicts as
select checked.* replace (coalesce(cross_rejects.reason, checked.reason) as reason)
from checked
left join cross_rejects using (line_no)
"""


def _clean_value(column: Column) -> str:
    match column.kind:
        case Kind.ID:
            return f"cast({column.target} as bigint) as {column.target}"
        case Kind.LOWER:
            return f"lower({column.target}) as {column.target}"
        case Kind.TIMESTAMP:
            return f"{column.target}__utc as {column.target}"
        case _:
            return column.target
