"""Benchmark of the marts: backfill, one day, and the eight questions, against the reference.

For each --scales value: generate snapshots (`bitso generate`), load them into a throwaway
database through the load_snapshots job, then measure

- the full backfill of every mart over 2020-01-01..2023-08-23 as ONE daily_marts run
  (Postgres time per mart, checks, and the rest: Dagster's per-partition bookkeeping);
- one incremental day, the first and the last, each a single-partition run;
- p50/p95 of each question over --question-runs random parameter sets, from the marts
  (bitso_platform.questions) on one connection.

Beside them, the reference approach of the Airflow-era solutions: every mart of a day
recomputed with one query per mart over the raw tables (amounts cast from their text as
loaded), one day after another (timed on --sample-days days spread over the history and
extrapolated to all 1,331 days), and the same eight questions as direct SQL over the raw
tables, given indexes on time and user.

Run: .venv/bin/python bench/marts.py [--scales 1 10] [--postgres-url URL]
     .venv/bin/python bench/marts.py --loaded URL [--loaded-scale 10]   (already loaded)
     .venv/bin/python bench/marts.py --loaded URL --questions-only      (marts built: questions)
"""

import argparse
import functools
import json
import logging
import math
import os
import random
import statistics
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

import dagster as dg
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from bitso_platform import deposit_history, questions
from bitso_platform.dagster_storage import EVENT_BATCH_SIZE
from bitso_platform.definitions import defs
from bitso_platform.defs.marts.assets import asset_key
from bitso_platform.defs.marts.catalog import MARTS, Mart
from bitso_platform.defs.marts.partitions import partition_tags
from bitso_platform.defs.marts.schedules import SEGMENTS_CHECK
from bitso_platform.devtools.generate import generate_snapshots
from bitso_platform.sql import load_sql

log = logging.getLogger("bench.marts")

# The marts of the eight questions; bench/features.py measures the feature marts after them.
FEATURES = (
    "daily_user_features",
    "user_features_as_of",
    "user_segments",
    "monthly_currency_stats",
)
QUESTION_MARTS = tuple(mart for mart in MARTS if mart.table not in FEATURES)
FEATURE_MARTS = tuple(mart for mart in MARTS if mart.table in FEATURES)

ADMIN_URL = "postgresql://postgres@127.0.0.1/postgres"
FIRST_DAY = date(2020, 1, 1)
LAST_DAY = date(2023, 8, 23)
HISTORY_DAYS = (LAST_DAY - FIRST_DAY).days + 1
QUESTIONS = (
    "active_users",
    "users_without_deposit",
    "frequent_depositors",
    "last_login",
    "login_count",
    "currencies_deposited",
    "currencies_withdrawn",
    "amount_deposited",
)

# The questions whose answer is a list of user ids, with their SQL parameters.
LIST_QUESTIONS: dict[str, Callable[[dict], dict]] = {
    "users_without_deposit": lambda p: {"as_of": p["day"]},
    "frequent_depositors": lambda p: {"day": p["day"], "more_than": p["more_than"]},
}

# The reference: one query per mart and day over the raw tables (parameter d = the day).
REFERENCE_MARTS = {
    "movements": """
        select user_id, currency,
            count(*) filter (where kind = 'd' and tx_status = 'complete'),
            sum(amount) filter (where kind = 'd' and tx_status = 'complete'),
            count(*) filter (where kind = 'w' and tx_status = 'complete'),
            sum(amount) filter (where kind = 'w' and tx_status = 'complete'),
            count(*) filter (where tx_status <> 'complete')
        from (
            select 'd' as kind, user_id, currency, amount::numeric as amount, tx_status, occurred_at
            from raw.deposits
            union all
            select 'w', user_id, currency, amount::numeric, tx_status, occurred_at
            from raw.withdrawals
        ) as t
        where occurred_at >= %(d)s::date and occurred_at < %(d)s::date + 1
        group by user_id, currency""",
    "balances": """
        with t as (
            select user_id, currency, amount::numeric as amount, occurred_at from raw.deposits
            where tx_status = 'complete'
            union all
            select user_id, currency, -amount::numeric, occurred_at from raw.withdrawals
            where tx_status = 'complete'
        )
        select user_id, currency, sum(amount) from t
        where occurred_at < %(d)s::date + 1 and (user_id, currency) in (
            select user_id, currency from t
            where occurred_at >= %(d)s::date and occurred_at < %(d)s::date + 1)
        group by user_id, currency""",
    "currency_totals": """
        select currency, count(*), sum(amount::numeric), count(distinct user_id)
        from raw.deposits
        where tx_status = 'complete'
            and occurred_at >= %(d)s::date and occurred_at < %(d)s::date + 1
        group by currency""",
    "logins": """
        select user_id, count(*), max(occurred_at) from raw.events
        where event_name = 'login'
            and occurred_at >= %(d)s::date and occurred_at < %(d)s::date + 1
        group by user_id""",
    "user_status": """
        with t as (
            select user_id, 1 as deposits, occurred_at from raw.deposits
            where tx_status = 'complete'
            union all
            select user_id, 0, occurred_at from raw.withdrawals where tx_status = 'complete'
        )
        select user_id, sum(deposits) from t
        where occurred_at < %(d)s::date + 1 and user_id in (
            select user_id from t
            where occurred_at >= %(d)s::date and occurred_at < %(d)s::date + 1)
        group by user_id""",
    "kpis": """
        select
            (select count(distinct user_id) from (
                select user_id from raw.deposits where tx_status = 'complete'
                    and occurred_at >= %(d)s::date and occurred_at < %(d)s::date + 1
                union all
                select user_id from raw.withdrawals where tx_status = 'complete'
                    and occurred_at >= %(d)s::date and occurred_at < %(d)s::date + 1) as a),
            (select count(*) from raw.events where event_name = 'login'
                and occurred_at >= %(d)s::date and occurred_at < %(d)s::date + 1)""",
}

# The same questions, directly over the raw tables.
DIRECT_QUESTIONS = {
    "active_users": """
        select count(distinct user_id) from (
            select user_id from raw.deposits where tx_status = 'complete'
                and occurred_at >= %(day)s::date and occurred_at < %(day)s::date + 1
            union all
            select user_id from raw.withdrawals where tx_status = 'complete'
                and occurred_at >= %(day)s::date and occurred_at < %(day)s::date + 1) as a""",
    "users_without_deposit": """
        select user_id from raw.users as u where not exists (
            select from raw.deposits as d where d.user_id = u.user_id
                and d.tx_status = 'complete' and d.occurred_at < %(day)s::date + 1)
        order by user_id collate "C\"""",
    "frequent_depositors": """
        select user_id from raw.deposits
        where tx_status = 'complete' and occurred_at < %(day)s::date + 1
        group by user_id having count(*) > %(more_than)s order by user_id collate "C\"""",
    "last_login": """
        select max(occurred_at) from raw.events
        where user_id = %(user_id)s and event_name = 'login'
            and occurred_at < %(day)s::date + 1""",
    "login_count": """
        select count(*) from raw.events
        where user_id = %(user_id)s and event_name = 'login'
            and occurred_at >= %(from_day)s::date and occurred_at < %(to_day)s::date + 1""",
    "currencies_deposited": """
        select distinct currency from raw.deposits where tx_status = 'complete'
            and occurred_at >= %(day)s::date and occurred_at < %(day)s::date + 1
        order by 1""",
    "currencies_withdrawn": """
        select distinct currency from raw.withdrawals where tx_status = 'complete'
            and occurred_at >= %(day)s::date and occurred_at < %(day)s::date + 1
        order by 1""",
    "amount_deposited": """
        select coalesce(sum(amount::numeric), 0) from raw.deposits
        where tx_status = 'complete' and currency = %(currency)s
            and occurred_at >= %(day)s::date and occurred_at < %(day)s::date + 1""",
}

RAW_INDEXES = (
    *(
        f"create index if not exists bench_{table}_{name} on raw.{table} ({columns})"
        for table in ("deposits", "withdrawals", "events")
        for name, columns in (("at", "occurred_at"), ("user_at", "user_id, occurred_at"))
    ),
    "analyze raw.deposits, raw.withdrawals, raw.events, raw.users",
)


@dataclass
class Run:
    """One daily_marts run: wall time, Postgres seconds per mart, check step seconds."""

    wall: float
    marts: dict[str, float] = field(default_factory=dict)
    checks: float = 0.0

    @property
    def dagster(self) -> float:
        return self.wall - sum(self.marts.values()) - self.checks


@dataclass
class ListAnswers:
    """Q2 and Q3: their SQL forms over the same sets, the largest answers, and the cost of
    loading the deposit history they are answered from (first answer after a load or build)."""

    sql_form: dict[str, tuple[float, float]]
    largest: dict[str, int]
    history_load_ms: float


@dataclass
class ScaleResult:
    scale: float
    counts: dict[str, int]
    load_seconds: float
    backfill: Run
    first_day: Run
    last_day: Run
    questions: dict[str, tuple[float, float]]
    reference_day_seconds: list[float]
    direct_questions: dict[str, tuple[float, float]]
    lists: ListAnswers


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres-url",
        default=ADMIN_URL,
        help="Admin URL of the server; a throwaway database is created and dropped on it.",
    )
    parser.add_argument("--question-runs", type=int, default=200)
    parser.add_argument("--sample-days", type=int, default=24)
    parser.add_argument("--keep", action="store_true", help="Keep the databases afterwards.")
    parser.add_argument(
        "--loaded",
        metavar="URL",
        help="Measure on this database, already loaded by `bitso load` (its marts are rebuilt), "
        "instead of generating and loading --scales.",
    )
    parser.add_argument(
        "--loaded-scale", type=float, default=0.0, help="The scale of --loaded, for the report."
    )
    parser.add_argument(
        "--questions-only",
        action="store_true",
        help="With --loaded (marts already built): time only the questions from the marts.",
    )
    args = parser.parse_args()
    if args.questions_only and not args.loaded:
        parser.error("--questions-only measures an already built database: give it --loaded URL")
    return args


@contextmanager
def throwaway_database(admin_url: str, keep: bool) -> Iterator[str]:
    name = f"bitso_bench_marts_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield psycopg.conninfo.make_conninfo(admin_url, dbname=name)
    finally:
        if not keep:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


@contextmanager
def dagster_instance(admin_url: str) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance as deployed: BulkPlannedPostgresStorage in a throwaway database of
    the server, event batches on (deploy/dagster.yaml, docs/operations.md)."""
    os.environ["DAGSTER_EVENT_BATCH_SIZE"] = EVENT_BATCH_SIZE
    with (
        throwaway_database(admin_url, keep=False) as conninfo,
        tempfile.TemporaryDirectory() as home,
    ):
        database = psycopg.conninfo.conninfo_to_dict(conninfo)["dbname"]
        url = make_url(admin_url).set(database=str(database)).render_as_string(hide_password=False)
        config = {
            "telemetry": {"enabled": False},
            "storage": {
                "custom": {
                    "module": "bitso_platform.dagster_storage",
                    "class": "BulkPlannedPostgresStorage",
                    "config": {"postgres_url": url},
                }
            },
        }
        Path(home, "dagster.yaml").write_text(json.dumps(config))
        with dg.DagsterInstance.from_config(home) as instance:
            yield instance


@functools.cache
def marts_job(marts: tuple[Mart, ...]) -> dg.JobDefinition:
    """These marts and their checks, as daily_marts runs them (resolved once per set)."""
    selection = dg.AssetSelection.assets(*(asset_key(mart) for mart in marts))
    selection = selection - dg.AssetSelection.checks(SEGMENTS_CHECK)
    job = dg.define_asset_job("bench_marts", selection=selection)
    return dg.Definitions.merge(defs(), dg.Definitions(jobs=[job])).resolve_job_def("bench_marts")


def run_config(**resources: dict[str, str]) -> dict:
    """Quiet run config pointing resources at this benchmark's databases and files: they
    are parameters of the run, not of the environment."""
    return {
        "resources": {key: {"config": config} for key, config in resources.items()},
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
    }


def run_marts(
    instance: dg.DagsterInstance,
    warehouse_url: str,
    first: date,
    last: date,
    marts: tuple[Mart, ...] = QUESTION_MARTS,
) -> Run:
    """The marts (by default those of the eight questions) over first..last as one run."""
    started = time.perf_counter()
    result = marts_job(marts).execute_in_process(
        instance=instance,
        tags=partition_tags(first, last),
        run_config=run_config(warehouse={"url": warehouse_url}),
        raise_on_error=False,
    )
    run = Run(wall=time.perf_counter() - started)
    if not result.success:
        raise RuntimeError(f"the daily_marts run over {first}..{last} failed")
    for event in result.get_asset_materialization_events():
        key = event.asset_key.path[1] if event.asset_key else "?"
        run.marts.setdefault(key, float(event.materialization.metadata["run_seconds"].value))
    for event in result.all_events:
        if event.is_step_success and event.step_key and event.step_key.endswith("_checks"):
            run.checks += event.event_specific_data.duration_ms / 1000
    return run


def load(url: str, snapshots: Path) -> float:
    started = time.perf_counter()
    load_run(url, snapshots)
    return time.perf_counter() - started


def load_run(url: str, snapshots: Path) -> dg.ExecuteInProcessResult:
    """The load_snapshots job (five files and core) into `url`, as one run. The load
    transaction's warehouse is bound from the settings, so BITSO_WAREHOUSE_URL names `url`
    while the job is built and runs."""
    with mock.patch.dict(os.environ, {"BITSO_WAREHOUSE_URL": url}):
        result = (
            defs()
            .resolve_job_def("load_snapshots")
            .execute_in_process(
                instance=dg.DagsterInstance.ephemeral(),
                run_config=run_config(
                    warehouse={"url": url}, snapshot_source={"url": str(snapshots)}
                ),
                raise_on_error=False,
            )
        )
    if not result.success:
        raise RuntimeError("loading the snapshots failed")
    return result


def parameter_sets(conn: psycopg.Connection, runs: int, seed: int) -> list[dict]:
    """Random days over the history, users (a tenth unknown), N and currencies."""
    rng = random.Random(seed)
    users = [u for (u,) in conn.execute("select user_id from core.users order by user_id")]
    currencies = [c for (c,) in conn.execute("select currency from core.currencies order by 1")]

    def day() -> date:
        return FIRST_DAY + timedelta(days=rng.randrange(HISTORY_DAYS))

    sets = []
    for _ in range(runs):
        first, last = sorted((day(), day()))
        sets.append(
            {
                "day": day(),
                "from_day": first,
                "to_day": last,
                "user_id": uuid.uuid4().hex if rng.random() < 0.1 else rng.choice(users),
                "more_than": 5 if rng.random() < 0.5 else rng.randrange(0, 21),
                "currency": "xyz" if rng.random() < 0.05 else rng.choice(currencies),
            }
        )
    return sets


def ask_marts(name: str) -> Callable[[psycopg.Connection, dict], object]:
    calls: dict[str, Callable[[psycopg.Connection, dict], object]] = {
        "active_users": lambda c, p: questions.active_users(c, p["day"]),
        "users_without_deposit": lambda c, p: questions.users_without_deposit(c, p["day"]),
        "frequent_depositors": lambda c, p: questions.frequent_depositors(
            c, p["day"], p["more_than"]
        ),
        "last_login": lambda c, p: questions.last_login(c, p["user_id"], p["day"]),
        "login_count": lambda c, p: questions.login_count(
            c, p["user_id"], p["from_day"], p["to_day"]
        ),
        "currencies_deposited": lambda c, p: questions.currencies_deposited(c, p["day"]),
        "currencies_withdrawn": lambda c, p: questions.currencies_withdrawn(c, p["day"]),
        "amount_deposited": lambda c, p: questions.amount_deposited(c, p["currency"], p["day"]),
    }
    return calls[name]


def percentiles(
    conn: psycopg.Connection, ask: Callable[[psycopg.Connection, dict], object], sets: list[dict]
) -> tuple[float, float]:
    """p50 and p95 in milliseconds, after a warm-up on the first five sets."""
    for params in sets[:5]:
        ask(conn, params)
    timings = []
    for params in sets:
        started = time.perf_counter()
        ask(conn, params)
        timings.append((time.perf_counter() - started) * 1000)
    return p50_p95(timings)


def p50_p95(timings: list[float]) -> tuple[float, float]:
    quantiles = statistics.quantiles(timings, n=100, method="inclusive")
    return quantiles[49], quantiles[94]


def list_answers(conn: psycopg.Connection, sets: list[dict]) -> ListAnswers:
    sql_form, largest = {}, {}
    for name in LIST_QUESTIONS:
        ask = ask_sql(name)
        sql_form[name] = percentiles(conn, ask, sets)
        largest[name] = max(len(ask(conn, params)) for params in sets)
    loads = []
    for _ in range(3):
        deposit_history.forget()
        started = time.perf_counter()
        deposit_history.deposit_history(conn)
        loads.append((time.perf_counter() - started) * 1000)
    return ListAnswers(sql_form, largest, statistics.median(loads))


def ask_sql(name: str) -> Callable[[psycopg.Connection, dict], list[str]]:
    """The list question's SQL form: one newline-separated value, split into ids."""
    query, sql_params = load_sql(f"questions/{name}"), LIST_QUESTIONS[name]

    def ask(conn: psycopg.Connection, params: dict) -> list[str]:
        text = conn.execute(query, sql_params(params)).fetchone()[0]  # type: ignore[index]
        return text.split("\n") if text else []

    return ask


def direct(query: str) -> Callable[[psycopg.Connection, dict], object]:
    return lambda conn, params: conn.execute(query, params).fetchall()


def reference_days(conn: psycopg.Connection, sample: int) -> list[float]:
    """Seconds to recompute every reference mart of each sampled day, one day after another."""
    step = HISTORY_DAYS / sample
    days = [FIRST_DAY + timedelta(days=round(step / 2 + i * step)) for i in range(sample)]
    seconds = []
    for day in days:
        started = time.perf_counter()
        for query in REFERENCE_MARTS.values():
            conn.execute(query, {"d": day}).fetchall()
        seconds.append(time.perf_counter() - started)
    return seconds


def count_rows(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("core", table)))
    return row.fetchone()[0]  # type: ignore[index]


def bench_scale(scale: float, args: argparse.Namespace) -> ScaleResult:
    with tempfile.TemporaryDirectory() as folder:
        log.info("scale %g: generating snapshots", scale)
        generate_snapshots(Path(folder), scale=scale, seed=args.seed)
        with throwaway_database(args.postgres_url, args.keep) as url:
            log.info("scale %g: loading %s", scale, url)
            load_seconds = load(url, Path(folder))
            return measure(scale, url, load_seconds, args)


def measure(scale: float, url: str, load_seconds: float, args: argparse.Namespace) -> ScaleResult:
    log.info("scale %g: full backfill %s..%s in one run", scale, FIRST_DAY, LAST_DAY)
    with dagster_instance(args.postgres_url) as instance:
        backfill = run_marts(instance, url, FIRST_DAY, LAST_DAY)
        log.info("scale %g: one day, first and last", scale)
        first_day = min(
            (run_marts(instance, url, FIRST_DAY, FIRST_DAY) for _ in range(3)),
            key=lambda r: r.wall,
        )
        last_day = min(
            (run_marts(instance, url, LAST_DAY, LAST_DAY) for _ in range(3)),
            key=lambda r: r.wall,
        )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set time zone 'UTC'")
        counts = {name: count_rows(conn, name) for name in ("users", "transactions", "logins")}
        sets = parameter_sets(conn, args.question_runs, args.seed)
        log.info("scale %g: questions from the marts", scale)
        from_marts = {name: percentiles(conn, ask_marts(name), sets) for name in QUESTIONS}
        lists = list_answers(conn, sets)
        log.info("scale %g: the reference, per day over the raw tables", scale)
        for statement in RAW_INDEXES:
            conn.execute(statement)
        reference = reference_days(conn, args.sample_days)
        log.info("scale %g: the questions directly over the raw tables", scale)
        direct_runs = {
            name: percentiles(conn, direct(DIRECT_QUESTIONS[name]), sets) for name in QUESTIONS
        }
    return ScaleResult(
        scale,
        counts,
        load_seconds,
        backfill,
        first_day,
        last_day,
        from_marts,
        reference,
        direct_runs,
        lists,
    )


def questions_only(url: str, args: argparse.Namespace) -> str:
    """The questions table alone, on a database whose marts are built."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set time zone 'UTC'")
        sets = parameter_sets(conn, args.question_runs, args.seed)
        timed = {name: percentiles(conn, ask_marts(name), sets) for name in QUESTIONS}
        lists = list_answers(conn, sets)
    lines = ["| question | marts p50 ms | marts p95 ms |", "|---|---:|---:|"]
    lines += [f"| {name} | {p50:.2f} | {p95:.2f} |" for name, (p50, p95) in timed.items()]
    lines += ["", *_lists_table(lists)]
    return "\n".join(lines)


def _lists_table(lists: ListAnswers) -> list[str]:
    lines = [
        "| list answer | largest answer | its SQL form (sql/questions) p50 ms | p95 ms |",
        "|---|---:|---:|---:|",
    ]
    for name, (p50, p95) in lists.sql_form.items():
        lines.append(f"| {name} | {lists.largest[name]:,} ids | {p50:.2f} | {p95:.2f} |")
    return [
        *lines,
        "",
        f"Loading the deposit history (the first Q2/Q3 answer after a load or a build, "
        f"median of 3): {lists.history_load_ms:.0f} ms.",
    ]


def run_row(label: str, run: Run) -> str:
    """A table row of a run: wall, mart SQL, checks and Dagster's bookkeeping seconds."""
    return (
        f"| {label} | {run.wall:.2f} | {sum(run.marts.values()):.2f} | {run.checks:.2f} |"
        f" {run.dagster:.2f} |"
    )


def markdown(results: list[ScaleResult], args: argparse.Namespace) -> str:
    lines = [
        f"{os.cpu_count()} cores; question timings over {args.question_runs} random "
        "parameter sets (days over the history, a tenth of the users unknown); the reference "
        f"per-day recomputation timed on {args.sample_days} days spread over the history "
        f"and extrapolated to {HISTORY_DAYS:,} days.",
        "",
    ]
    for r in results:
        lines += _scale_section(r)
    return "\n".join(lines)


def _scale_section(r: ScaleResult) -> list[str]:
    per_day = statistics.mean(r.reference_day_seconds)
    counts = ", ".join(f"{n}: {c:,}" for n, c in r.counts.items())
    lines = [
        f"### Scale {r.scale:g} ({counts}"
        + ("" if math.isnan(r.load_seconds) else f"; load {r.load_seconds:.0f} s")
        + ")",
        "",
        "| build | wall s | Postgres: marts s | checks s | Dagster bookkeeping s |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, run in (
        (f"full backfill {FIRST_DAY}..{LAST_DAY}, one run", r.backfill),
        (f"one day, first ({FIRST_DAY})", r.first_day),
        (f"one day, last ({LAST_DAY})", r.last_day),
    ):
        lines.append(run_row(label, run))
    lines.append(
        f"| reference: 6 marts x {HISTORY_DAYS:,} days, one query per mart and day "
        f"(extrapolated from {len(r.reference_day_seconds)} days, {per_day:.3f} s/day) | "
        f"{per_day * HISTORY_DAYS:.0f} | | | |"
    )
    lines += [
        "",
        "Postgres seconds per mart (full backfill): "
        + ", ".join(f"{k} {v:.1f}" for k, v in r.backfill.marts.items()),
        "",
        "| question | marts p50 ms | marts p95 ms | raw + indexes p50 ms | raw + indexes p95 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in QUESTIONS:
        (p50, p95), (d50, d95) = r.questions[name], r.direct_questions[name]
        lines.append(f"| {name} | {p50:.2f} | {p95:.2f} | {d50:.2f} | {d95:.2f} |")
    return [*lines, "", *_lists_table(r.lists), ""]


def quiet_logging() -> None:
    """Benchmark progress at INFO; Dagster's preview notices and the platform's own lines hidden."""
    warnings.simplefilter("ignore", category=dg.PreviewWarning)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("bitso_platform", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main() -> None:
    args = parse_args()
    quiet_logging()
    if args.questions_only:
        print(questions_only(args.loaded, args))
        return
    if args.loaded:
        results = [measure(args.loaded_scale, args.loaded, float("nan"), args)]
    else:
        results = [bench_scale(scale, args) for scale in args.scales]
    print(markdown(results, args))


if __name__ == "__main__":
    main()
