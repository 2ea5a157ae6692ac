"""`bitso build`: the marts for a range of days, as one Dagster run (a single-run backfill)."""

import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import click
import dagster as dg
import psycopg

from bitso_platform.cli import render
from bitso_platform.cli.params import Day
from bitso_platform.cli.progress import Progress, progress_on_stderr
from bitso_platform.cli.runtime import CHECK_OUTCOMES, FinishedRun, check_outcome, run_job
from bitso_platform.cli.warehouse import unreachable, warehouse_url


@dataclass
class Summary:
    """What one build run did, read from its Dagster events."""

    rows: dict[str, int | None] = field(default_factory=dict)  # None: a view
    seconds: dict[str, float] = field(default_factory=dict)
    month_rows: dict[str, dict[str, int]] = field(default_factory=dict)
    # Each check's worst outcome over the days of the run: passed, warned or failed.
    check_outcomes: dict[str, str] = field(default_factory=dict)
    step_failures: list[str] = field(default_factory=list)

    @property
    def checks_passed(self) -> int:
        return sum(outcome == "passed" for outcome in self.check_outcomes.values())

    @property
    def checks_failed(self) -> list[str]:
        return [name for name, outcome in self.check_outcomes.items() if outcome == "failed"]

    @property
    def checks_warned(self) -> list[str]:
        return [name for name, outcome in self.check_outcomes.items() if outcome == "warned"]


@click.command()
@click.option(
    "--from",
    "from_day",
    type=Day(),
    help="First day to build (default: BITSO_PARTITIONS_START, 2020-01-01 unless set).",
)
@click.option("--to", "to_day", type=Day(), help="Last day to build (default: today, UTC).")
def build(from_day: date | None, to_day: date | None) -> None:
    """Build the marts for the days FROM..TO (inclusive) as ONE Dagster run.

    Every mart replaces exactly those days' rows in one transaction, with set-based SQL over
    the whole range, then its checks run over the same days. Run `bitso load` first. Running
    totals (balances, counts to date, features) continue from the days before FROM: when one
    of them is not built, the build starts at the first such day instead, and says so. The run
    shows up in the Dagster UI (make dev) as a backfill of the daily_marts job.
    """
    from bitso_platform.defs.marts.partitions import partition_tags, partitions_start
    from bitso_platform.defs.marts.schedules import JOB

    start = partitions_start()
    first, last = _window(from_day, to_day, start, datetime.now(UTC).date())
    first = _from_first_unbuilt_day(first, start)
    days = (last - first).days + 1
    click.echo(
        f"building the marts for {first}..{last} ({days:,} days) in one Dagster run; Dagster "
        "then records one materialization per day and mart",
        err=True,
    )
    started = time.perf_counter()
    with (
        progress_on_stderr(MartProgress(days)) as progress,
        _progress_to_stderr(progress),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", category=dg.PreviewWarning)
        result = run_job(JOB, tags=partition_tags(first, last), progress=progress)
    summary = _summary(result)
    click.echo(_summary_table(summary, first, last, time.perf_counter() - started))
    if not result.success or summary.checks_failed:
        raise click.ClickException(_failure_message(summary))


def _window(
    from_day: date | None, to_day: date | None, start: date, today: date
) -> tuple[date, date]:
    first, last = from_day or start, to_day or today
    if first < start:
        raise click.BadParameter(
            f"{first} is before the first daily partition {start}: set BITSO_PARTITIONS_START "
            "earlier to build it",
            param_hint="--from",
        )
    if last > today:
        raise click.BadParameter(f"{last} is after today ({today}, UTC)", param_hint="--to")
    if first > last:
        raise click.BadParameter(f"--from {first} is after --to {last}")
    return first, last


def _from_first_unbuilt_day(first: date, start: date) -> date:
    """Where the build must start: running totals continue from the days before `first`."""
    from bitso_platform.defs.marts.partitions import first_unbuilt_day

    try:
        with psycopg.connect(warehouse_url()) as conn:
            unbuilt = first_unbuilt_day(conn, start, first)
    except psycopg.OperationalError as exc:
        raise unreachable(exc) from exc
    if unbuilt is None:
        return first
    click.echo(
        f"{unbuilt} is not built yet and the running totals of {first} (balances, counts to "
        f"date, features) continue from it: building from {unbuilt} instead",
        err=True,
    )
    return unbuilt


class MartProgress(Progress):
    """The marts done of the run's, as their materializations arrive."""

    def __init__(self, days: int) -> None:
        super().__init__()
        self.days = days
        self.planned: set[str] = set()
        self.done: set[str] = set()

    def event(self, entry: dg.EventLogEntry) -> None:
        super().event(entry)
        event = entry.dagster_event
        if event is None or event.asset_key is None:
            return
        key = event.asset_key.to_user_string()
        if event.event_type_value == "ASSET_MATERIALIZATION_PLANNED":
            self.planned.add(key)
        elif event.event_type_value == "ASSET_MATERIALIZATION" and key not in self.done:
            self.done.add(key)
            planned = max(len(self.planned), len(self.done))
            self.update(
                "marts",
                f"marts done {len(self.done):,} of {planned:,} ({self.days:,} days each), "
                f"last {key}",
            )


class _EchoHandler(logging.Handler):
    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        self.progress.echo(f"  {record.getMessage()}")


@contextmanager
def _progress_to_stderr(progress: Progress) -> Iterator[None]:
    """Echo the marts' progress messages (logger bitso_platform.marts) while the run executes."""
    logger = logging.getLogger("bitso_platform.marts")
    handler, level = _EchoHandler(progress), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _summary(result: FinishedRun) -> Summary:
    summary = Summary()
    for event in result.all_events:
        if event.is_step_failure and event.step_key:
            error = event.step_failure_data.error if event.step_failure_data else None
            cause = (error.cause or error) if error else None
            message = cause.message.strip() if cause else "see the run in the Dagster UI"
            summary.step_failures.append(f"{event.step_key}: {message}")
        elif event.event_type_value == "ASSET_MATERIALIZATION" and event.asset_key:
            _record_materialization(summary, event)
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            _record_check(summary, event)
    return summary


def _record_materialization(summary: Summary, event: dg.DagsterEvent) -> None:
    # Each day's event carries that day's rows (a monthly mart: its month's); the run's
    # seconds are on every one.
    key = event.asset_key.to_user_string() if event.asset_key else "?"
    metadata = event.materialization.metadata
    summary.seconds[key] = float(metadata["run_seconds"].value)  # type: ignore[arg-type]
    count = metadata.get("dagster/row_count")
    if "month" in metadata:
        months = summary.month_rows.setdefault(key, {})
        months[str(metadata["month"].value)] = int(metadata["month_row_count"].value)  # type: ignore[arg-type]
        summary.rows[key] = sum(months.values())
    elif count is None:
        summary.rows.setdefault(key, None)
    else:
        summary.rows[key] = (summary.rows.get(key) or 0) + int(count.value)  # type: ignore[arg-type]


def _record_check(summary: Summary, event: dg.DagsterEvent) -> None:
    # One evaluation per check and day: a check failed (warned) when it did on any day.
    evaluation = event.asset_check_evaluation_data
    name = f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}"
    previous = summary.check_outcomes.get(name, "passed")
    worst = max(previous, check_outcome(evaluation), key=CHECK_OUTCOMES.index)
    summary.check_outcomes[name] = worst


def _summary_table(summary: Summary, first: date, last: date, wall: float) -> str:
    rows = [
        (key, "view" if count is None else count, round(summary.seconds[key], 2))
        for key, count in summary.rows.items()
    ]
    lines = [render.table(rows, header=("mart", "rows", "seconds"))]
    checks = f"{summary.checks_passed:,} passed"
    if summary.checks_failed:
        checks += f", {len(summary.checks_failed):,} failed"
    if summary.checks_warned:
        checks += f", warnings: {', '.join(summary.checks_warned)}"
    sql_seconds = sum(summary.seconds.values())
    lines += [
        "",
        f"days {first}..{last}; checks {checks}",
        f"{wall:.1f}s in all: {sql_seconds:.1f}s building marts in Postgres, "
        f"the rest checks and Dagster's bookkeeping",
    ]
    return "\n".join(lines)


def _failure_message(summary: Summary) -> str:
    problems = summary.step_failures + [f"check failed: {c}" for c in summary.checks_failed]
    return "the build did not complete cleanly:\n" + "\n".join(
        problems or ["see the run in the Dagster UI (make dev)"]
    )
