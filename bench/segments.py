"""Benchmark of Marketing's segments on a built database: members and counts of a day.

On a database whose marts are built (e.g. scale 10: `bitso generate --scale 10 --seed 10`,
`bitso load`, `bitso build`), measure over --days random built days, each read on a fresh
connection:

- the members of each segment as `bitso ask segment` reads them
  (`bitso_platform.questions.segment`, the pipeline's role);
- the whole-segment count of a day as Marketing's team role runs it:
  `select count(*) from marts.user_segments where day = D and segment = S` under
  `set role marketing_reader` (the roles applied first, as the access asset does).

Targets: a segment's members in 1 s or less, a whole-segment count in 2 s or less.

Run: .venv/bin/python bench/segments.py --built URL [--days 5]
"""

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import date

import psycopg

from bitso_platform import questions
from bitso_platform.access import apply_access_roles

COUNT = "select count(*) from marts.user_segments where day = %s and segment = %s"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--built", metavar="URL", required=True, help="A built database.")
    parser.add_argument("--days", type=int, default=5, help="Random built days to read.")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def built_days(url: str, count: int, seed: int) -> list[date]:
    with psycopg.connect(url) as conn:
        days = [row[0] for row in conn.execute("select day from marts.daily_kpis order by day")]
    return random.Random(seed).sample(days[len(days) // 2 :], count)


def timings(read: Callable[[psycopg.Connection, date], object], url: str, days: list[date]) -> str:
    """p50 and max seconds of one read over the days, each on a fresh connection."""
    seconds = []
    for day in days:
        with psycopg.connect(url) as conn:
            started = time.perf_counter()
            read(conn, day)
            seconds.append(time.perf_counter() - started)
    return f"{statistics.median(seconds):.3f} / {max(seconds):.3f}"


def members(name: str) -> Callable[[psycopg.Connection, date], object]:
    return lambda conn, day: questions.segment(conn, name, day)


def count_as_marketing(name: str) -> Callable[[psycopg.Connection, date], object]:
    def read(conn: psycopg.Connection, day: date) -> object:
        conn.execute("set role marketing_reader")
        return conn.execute(COUNT, [day, name]).fetchone()

    return read


def main() -> None:
    args = parse_args()
    with psycopg.connect(args.built) as conn:
        apply_access_roles(conn)
    days = built_days(args.built, args.days, args.seed)
    print(f"days: {', '.join(map(str, days))}\n")
    print("| segment | members (`bitso ask segment`) p50 s / max s |", end="")
    print(" whole-segment count as marketing_reader p50 s / max s |")
    print("|---|---:|---:|")
    for name in questions.SEGMENTS:
        print(
            f"| `{name}` | {timings(members(name), args.built, days)} |"
            f" {timings(count_as_marketing(name), args.built, days)} |"
        )


if __name__ == "__main__":
    main()
