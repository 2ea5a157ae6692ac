"""Benchmark of the feature marts against the full marts backfill, on a loaded database.

On a database already loaded by `bitso load` (e.g. the scale-10 snapshots of
`bitso generate --scale 10 --seed 10`), measure

- the full backfill of the seven daily marts over 2020-01-01..2023-08-23 as ONE run of the
  daily_marts job restricted to them (with their checks);
- then the full backfill of the feature marts (daily_user_features, user_segments,
  monthly_currency_stats) over the same days as ONE run restricted to them (with checks);
- reading the features and segments as of a day: p50/max of `user_features_as_of` for one
  user, for every user, of `user_currency_features_as_of` for five accounts (a preview) and
  every account, and of each segment (`bitso_platform.questions.segment`), over --days
  random days (with --reads-only, on marts already built: no backfill).

The target: the feature backfill within 2x the wall time of the marts backfill.

Run: .venv/bin/python bench/features.py --loaded URL [--days 5] [--reads-only]
"""

import argparse
import logging
import random
import statistics
import time
import warnings
from collections.abc import Callable
from datetime import date, timedelta

import dagster as dg
import psycopg
from marts import (  # bench/marts.py
    ADMIN_URL,
    FEATURE_MARTS,
    FIRST_DAY,
    LAST_DAY,
    Run,
    dagster_instance,
    run_marts,
)
from psycopg import sql

from bitso_platform import questions
from bitso_platform.defs.marts.catalog import MARTS

log = logging.getLogger("bench.features")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loaded", metavar="URL", required=True, help="A loaded database.")
    parser.add_argument("--days", type=int, default=5, help="Random days for the reads.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--reads-only", action="store_true", help="Only the reads, on marts already built."
    )
    return parser.parse_args()


def timings(read: Callable[[psycopg.Connection, date], object], url: str, days: list[date]) -> str:
    """p50 and max seconds of one read over the days (each on a fresh connection)."""
    seconds = []
    for day in days:
        with psycopg.connect(url) as conn:
            started = time.perf_counter()
            read(conn, day)
            seconds.append(time.perf_counter() - started)
    return f"{statistics.median(seconds):.2f} / {max(seconds):.2f}"


def one_user(conn: psycopg.Connection, day: date) -> object:
    # A user seen by the day, found from a random id along the key, not by sorting every user
    # at random, which the timing would include (0.5 s at scale 100).
    (user,) = conn.execute(
        "select coalesce("
        " (select user_id from core.users"
        "  where user_id >= %(bound)s and first_seen_on <= %(day)s"
        "  order by user_id limit 1),"
        " (select min(user_id) from core.users where first_seen_on <= %(day)s))",
        {"bound": f"{random.getrandbits(128):032x}", "day": day},
    ).fetchone() or (None,)
    rows = conn.execute(
        "select * from marts.user_features_as_of where day = %s and user_id = %s", [day, user]
    ).fetchall()
    if not rows:
        raise RuntimeError(f"no features of user {user} on {day}: is the day built?")
    return rows


def as_of(view: str, limit: int | None = None) -> Callable[[psycopg.Connection, date], object]:
    """A read of the view's rows as of the day, all of them or the first `limit`."""
    query = sql.SQL("select * from {} where day = %s limit {}").format(
        sql.Identifier("marts", view), sql.Literal(limit) if limit else sql.SQL("all")
    )

    def read(conn: psycopg.Connection, day: date) -> object:
        conn.execute("set jit = off")  # compiling a whole day's read costs more than it saves
        return conn.execute(query, [day]).fetchall()

    return read


def segment(name: str) -> Callable[[psycopg.Connection, date], object]:
    return lambda conn, day: questions.segment(conn, name, day)


def sizes(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {mart.table: _count(conn, mart.table) for mart in MARTS if not mart.view}


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(
        sql.SQL("select count(*) from {}").format(sql.Identifier("marts", table))
    ).fetchone()
    return row[0] if row else 0


def main() -> None:
    args = parse_args()
    warnings.simplefilter("ignore", category=dg.PreviewWarning)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("bitso_platform").setLevel(logging.WARNING)
    if args.reads_only:
        print(reads_table(reads(args)))
        return
    with dagster_instance(ADMIN_URL) as instance:
        log.info("full marts backfill %s..%s", FIRST_DAY, LAST_DAY)
        marts = run_marts(instance, args.loaded, FIRST_DAY, LAST_DAY)
        log.info("feature backfill %s..%s", FIRST_DAY, LAST_DAY)
        features = run_marts(instance, args.loaded, FIRST_DAY, LAST_DAY, FEATURE_MARTS)
    print(report(marts, features, reads(args), sizes(args.loaded)))


def reads(args: argparse.Namespace) -> dict[str, str]:
    rng = random.Random(args.seed)
    span = (LAST_DAY - FIRST_DAY).days
    days = [
        FIRST_DAY + timedelta(days=rng.randrange(span // 2, span + 1)) for _ in range(args.days)
    ]
    log.info("reads on %s", ", ".join(map(str, days)))
    return {
        "user_features_as_of, one user": timings(one_user, args.loaded, days),
        "user_features_as_of, every user": timings(as_of("user_features_as_of"), args.loaded, days),
        "user_currency_features_as_of, five accounts": timings(
            as_of("user_currency_features_as_of", limit=5), args.loaded, days
        ),
        "user_currency_features_as_of, every account": timings(
            as_of("user_currency_features_as_of"), args.loaded, days
        ),
        **{
            f"segment {name}": timings(segment(name), args.loaded, days)
            for name in questions.SEGMENTS
        },
    }


def report(marts: Run, features: Run, reads: dict[str, str], rows: dict[str, int]) -> str:
    lines = [
        "| backfill 2020-01-01..2023-08-23, one run | wall s | Postgres s | checks s | Dagster s |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, run in (("the seven daily marts", marts), ("the feature marts", features)):
        lines.append(
            f"| {label} | {run.wall:.1f} | {sum(run.marts.values()):.1f} | {run.checks:.1f} |"
            f" {run.dagster:.1f} |"
        )
    lines += [
        "",
        f"Feature backfill / marts backfill (wall): {features.wall / marts.wall:.2f}x.",
        "Postgres seconds per mart: "
        + ", ".join(f"{k} {v:.1f}" for k, v in (marts.marts | features.marts).items()),
        "",
        "Rows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()),
        "",
        reads_table(reads),
    ]
    return "\n".join(lines)


def reads_table(reads: dict[str, str]) -> str:
    lines = ["| read as of a day | p50 s / max s |", "|---|---:|"]
    return "\n".join(lines + [f"| {name} | {value} |" for name, value in reads.items()])


if __name__ == "__main__":
    main()
