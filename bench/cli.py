"""Benchmark of the `bitso` command's start-up: whole commands, timed as a user runs them.

Each command runs --runs times (after two warm-ups) as a subprocess of the installed `bitso`
entry point, like hyperfine; the table gives min, median and p95 wall seconds, and the median
CPU seconds (user + system) of the process, which a loaded machine inflates less. Then
`python -X importtime` of an ask shows where the remaining start-up goes, the largest
top-level imports first.

The asks need marts built for their day: --warehouse-url names such a warehouse (e.g. the
demo's), or by default a throwaway database on --postgres-url is filled with
`bitso generate --scale S`, `bitso load` and `bitso build --from 2020-01-01 --to DAY`, and
dropped at the end.

Run: .venv/bin/python bench/cli.py [--runs 20] [--day 2020-03-31] [--warehouse-url URL]
"""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

BIN = Path(sys.executable).parent
BITSO = str(BIN / "bitso")
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def commands(day: str) -> dict[str, list[str]]:
    return {
        "bitso --help": ["--help"],
        "bitso ask --help": ["ask", "--help"],
        f"bitso ask active-users --day {day}": ["ask", "active-users", "--day", day],
        f"bitso ask amount-deposited --currency mxn --day {day}": [
            *("ask", "amount-deposited", "--currency", "mxn", "--day", day),
        ],
        f"bitso ask all --day {day}": ["ask", "all", "--day", day],
    }


def timed(args: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of `bitso ARGS`, `runs` times after two warm-ups."""
    wall, cpu = [], []
    for run in range(runs + 2):
        before, started = _children_cpu(), time.perf_counter()
        subprocess.run([BITSO, *args], env=env, check=True, capture_output=True)
        if run >= 2:
            wall.append(time.perf_counter() - started)
            cpu.append(_children_cpu() - before)
    return wall, cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def import_breakdown(day: str, env: dict[str, str], top: int) -> tuple[float, list[str]]:
    """Total import seconds of `bitso ask active-users` and its largest top-level imports."""
    script = (
        "from bitso_platform.cli import main; "
        f"main(['ask', 'active-users', '--day', '{day}'], standalone_mode=False)"
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", script],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    roots = [
        (int(match[2]), match[4])
        for match in map(IMPORT_LINE.match, result.stderr.splitlines())
        if match and not match[3]
    ]
    total = sum(cumulative for cumulative, _ in roots) / 1e6
    largest = sorted(roots, reverse=True)[:top]
    return total, [f"{name} {cumulative / 1e3:.0f} ms" for cumulative, name in largest]


@contextmanager
def built_warehouse(postgres_url: str, day: str, scale: float) -> Iterator[str]:
    """A throwaway database with generated snapshots loaded and the marts built through `day`."""
    name = f"bench_cli_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(postgres_url, dbname=name)
    try:
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder) / "dagster"
            home.mkdir()
            (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
            env = {**os.environ, "BITSO_WAREHOUSE_URL": url, "DAGSTER_HOME": str(home)}
            snapshots = str(Path(folder) / "snapshots")
            for args in (
                ["generate", "--out", snapshots, "--scale", str(scale)],
                ["load", "--snapshots", snapshots],
                ["build", "--from", "2020-01-01", "--to", day],
            ):
                print(f"bitso {' '.join(args)} ...", file=sys.stderr)
                subprocess.run([BITSO, *args], env=env, check=True, capture_output=True)
        yield url
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def report(url: str, args: argparse.Namespace) -> None:
    env = {**os.environ, "BITSO_WAREHOUSE_URL": url}
    print(f"{args.runs} runs each, after 2 warm-ups; seconds\n")
    print("| command | wall min | wall median | wall p95 | CPU median |")
    print("|---|---:|---:|---:|---:|")
    for label, command in commands(args.day).items():
        wall, cpu = timed(command, env, args.runs)
        p95 = statistics.quantiles(wall, n=20)[18]
        print(
            f"| `{label}` | {min(wall):.3f} | {statistics.median(wall):.3f} | {p95:.3f}"
            f" | {statistics.median(cpu):.3f} |"
        )
    total, largest = import_breakdown(args.day, env, top=8)
    print(f"\nimports of `bitso ask active-users`: {total:.3f} s; largest: {', '.join(largest)}")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per command")
    parser.add_argument("--day", default="2020-03-31", help="the day the asks ask about")
    parser.add_argument("--scale", type=float, default=1.0, help="scale of `bitso generate`")
    parser.add_argument(
        "--warehouse-url", help="a warehouse built through --day (default: make one)"
    )
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="server for the throwaway database",
    )
    args = parser.parse_args()
    if args.warehouse_url:
        report(args.warehouse_url, args)
        return
    with built_warehouse(args.postgres_url, args.day, args.scale) as url:
        report(url, args)


if __name__ == "__main__":
    main()
