"""`bitso load` and `bitso quality`: snapshots into the warehouse, and their accounting."""

import dataclasses

import click
import psycopg.rows

from bitso_platform.cli import render
from bitso_platform.cli.config import current_settings
from bitso_platform.cli.params import format_option
from bitso_platform.cli.runtime import configured_resources, run_job
from bitso_platform.settings import parse_location
from bitso_platform.snapshots.spec import REASONS, SNAPSHOTS

ACCOUNTING_COLUMNS = ("rows_read", "clean", "quarantined", "exact_duplicates", "blank")


@click.command()
@click.option(
    "--snapshots",
    "snapshots_url",
    metavar="PATH_OR_S3_URL",
    help="Folder or s3://bucket/prefix holding the snapshot CSVs "
    "(default: BITSO_SNAPSHOTS_URL, else the demo data folder .bitso/snapshots).",
    callback=lambda _ctx, _param, value: _location(value),
)
@click.option(
    "--allow-shrink",
    is_flag=True,
    help="Accept a file with no data rows, or one that shrinks its table by more than half "
    "(refused otherwise).",
)
def load(snapshots_url: str | None, allow_shrink: bool) -> None:
    """Validate and load the snapshots into `raw`, then rebuild `core`, as one Dagster run.

    A load is one generation: every raw and core table and the accounting of this load
    become visible together, in one transaction committed after the blocking checks, or not
    at all. A missing required file, a wrong header, bytes that are not UTF-8, a refused
    file, a failed check or a kill at any moment leave the previous load exactly as it
    was. A file with no data rows, or one that would shrink its table by more than half,
    is refused unless --allow-shrink is given. Loads run one at a time: a second one fails
    at once with "another load is running (run id ...)".

    Bad rows go to raw.quarantine with a reason; the per-file accounting is printed at
    the end (and any time later by `bitso quality`).
    """
    settings = current_settings()
    if snapshots_url:
        settings = dataclasses.replace(settings, snapshots_url=snapshots_url)
    with configured_resources(settings) as resources:
        source = resources.snapshot_source.location().uri("")
    click.echo(f"loading snapshots from {source} into the warehouse ...", err=True)
    # The folder is a parameter of this run (its run config), not of the environment.
    overrides = {"snapshot_source": {"url": snapshots_url}} if snapshots_url else None
    result = run_job(
        "load_snapshots",
        resource_config=overrides,
        run_config=load_run_config(allow_shrink=allow_shrink),
    )
    _report_steps(result)
    if not result.success:
        raise click.ClickException(_failure_message(result))
    click.echo(_accounting_table(latest_accounting()))


def _location(value: str | None) -> str | None:
    try:
        return parse_location(value) if value else value
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is refused: {exc}") from None


def load_run_config(*, allow_shrink: bool) -> dict:
    """Run config of the load_snapshots job: the same settings for every snapshot asset."""
    config = {"allow_shrink": allow_shrink}
    return {"ops": {f"raw__{name}": {"config": config} for name in SNAPSHOTS}}


@click.command()
@format_option("table", "json")
def quality(output_format: str) -> None:
    """Print the per-file accounting of the last load of each snapshot.

    rows_read = clean + quarantined + exact_duplicates + blank for every file. JSON is one
    object keyed by snapshot (users, deposits, withdrawals, events, user_levels); a snapshot
    never loaded is null. Quarantined rows are in table raw.quarantine.
    """
    accounting = latest_accounting()
    if output_format == "json":
        click.echo(render.json_text({name: accounting.get(name) for name in SNAPSHOTS}, indent=2))
    else:
        click.echo(_accounting_table(accounting))


def latest_accounting() -> dict[str, dict]:
    """The last recorded load of every snapshot, keyed by snapshot name."""
    with configured_resources() as resources, resources.warehouse.connection() as conn:
        exists = conn.execute("select to_regclass('raw.snapshot_loads') is not null").fetchone()
        if not exists or not exists[0]:
            raise click.ClickException("nothing loaded yet: run `bitso load` first")
        rows = (
            conn.cursor(row_factory=psycopg.rows.dict_row)
            .execute(
                "select distinct on (snapshot) snapshot, source, loaded_at, rows_read, clean,"
                " quarantined, exact_duplicates, blank"
                " from raw.snapshot_loads order by snapshot, load_id desc"
            )
            .fetchall()
        )
    return {
        row["snapshot"]: {
            **{k: row[k] for k in ACCOUNTING_COLUMNS},
            "quarantined": {r: row["quarantined"][r] for r in REASONS if r in row["quarantined"]},
            "source": row["source"],
            "loaded_at": row["loaded_at"].isoformat(),
        }
        for row in rows
    }


def _accounting_table(accounting: dict[str, dict]) -> str:
    rows: list[tuple[render.Cell, ...]] = []
    for name in SNAPSHOTS:
        entry = accounting.get(name)
        if entry is None:
            rows.append((name, *([None] * len(ACCOUNTING_COLUMNS)), "not loaded"))
            continue
        reasons = ", ".join(f"{r}={render.number_text(n)}" for r, n in entry["quarantined"].items())
        counts = [
            sum(entry["quarantined"].values()) if c == "quarantined" else entry[c]
            for c in ACCOUNTING_COLUMNS
        ]
        rows.append((name, *counts, reasons or None))
    return render.table(rows, header=("snapshot", *ACCOUNTING_COLUMNS, "reasons"))


def _report_steps(result) -> None:
    for event in result.all_events:
        if event.is_step_failure:
            click.echo(f"  failed: {event.step_key}", err=True)
        elif event.event_type_value == "ASSET_MATERIALIZATION":
            key = event.asset_key.to_user_string() if event.asset_key else "?"
            click.echo(f"  materialized {key}", err=True)


def _failure_message(result) -> str:
    messages = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            cause = error.cause or error
            messages.append(f"{event.step_key}: {cause.message.strip()}")
        elif event.event_type_value == "RESOURCE_INIT_FAILURE" and event.engine_event_data.error:
            error = event.engine_event_data.error
            messages.append((error.cause or error).message.strip())
    return "the load failed; the previous load is intact:\n" + "\n".join(
        messages or ["see the run in the Dagster UI (make dev)"]
    )
