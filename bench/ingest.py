"""Ingest benchmark: the platform's snapshot load against a bare COPY of the same file.

Loads the events file of `bitso generate --scale S` (5M rows at scale 10) and prints rows/s
for (a) a bare COPY into an untyped table and (b) the platform's load (validation,
de-duplication, quarantine, typed COPY), their ratio, and the loader's peak memory.
Not a test: numbers go to docs/benchmarks.md.

    .venv/bin/python bench/ingest.py --scale 10 --scale 1
"""

import argparse
import multiprocessing
import resource
import statistics
import time
from pathlib import Path

import psycopg

from bitso_platform.devtools.generate import generate_snapshots
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.settings import load_settings
from bitso_platform.snapshots.loader import RAW_DDL, load_snapshot
from bitso_platform.snapshots.spec import EVENTS, USERS

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def bare_copy(url: str, path: Path, header: list[str] = EVENTS.header) -> float:
    """Seconds to COPY the file as-is into a table of text columns (the file's header)."""
    columns = ", ".join(f"{name} text" for name in header)
    with psycopg.connect(url) as conn:
        conn.execute(
            f"drop table if exists bench_bare_events; create table bench_bare_events ({columns})"
        )
        started = time.perf_counter()
        with (
            conn.cursor().copy(
                "copy bench_bare_events from stdin (format csv, header true)"
            ) as copy,
            path.open("rb") as f,
        ):
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("drop table bench_bare_events")
    return seconds


def platform_load(url: str, folder: Path, queue: multiprocessing.Queue) -> None:
    """In a child process: load users, then time the events load; report peak memory."""
    Warehouse(url=url).ensure(*RAW_DDL)
    with psycopg.connect(url) as conn, (folder / USERS.file).open("rb") as f:
        load_snapshot(conn, f, USERS, source=str(folder / USERS.file))
    with psycopg.connect(url) as conn, (folder / EVENTS.file).open("rb") as f:
        started = time.perf_counter()
        accounting = load_snapshot(conn, f, EVENTS, source=str(folder / EVENTS.file))
        conn.commit()
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((seconds, accounting.rows_read, peak_mb))


def run(scale: float, url: str, workdir: Path) -> dict[str, float]:
    folder = workdir / f"scale-{scale:g}"
    if not (folder / EVENTS.file).exists():
        print(f"generating scale {scale:g} into {folder} ...", flush=True)
        generate_snapshots(folder, scale=scale, seed=0)
    rows = sum(1 for _ in (folder / EVENTS.file).open("rb")) - 1
    bare = bare_copy(url, folder / EVENTS.file)
    queue: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=platform_load, args=(url, folder, queue))
    child.start()
    seconds, rows_read, peak_mb = queue.get()
    child.join()
    assert rows_read == rows, (rows_read, rows)
    result = {
        "scale": scale,
        "rows": rows,
        "bare_rows_per_s": rows / bare,
        "platform_rows_per_s": rows / seconds,
        "ratio": bare / seconds,
        "peak_mb": peak_mb,
        "bare_s": bare,
        "platform_s": seconds,
    }
    print(
        f"scale {scale:g}: {rows:,} events rows | bare COPY {bare:.2f}s = {rows / bare:,.0f} rows/s"
        f" | platform load {seconds:.2f}s = {rows / seconds:,.0f} rows/s"
        f" | ratio {bare / seconds:.2f} | loader peak RSS {peak_mb:,.0f} MB",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale",
        type=float,
        action="append",
        help="scale of `bitso generate` (repeatable; default 10)",
    )
    parser.add_argument(
        "--url",
        default=load_settings().warehouse_url or DEFAULT_URL,
        help="Postgres URL to load into (default BITSO_WAREHOUSE_URL or the local server)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(".bitso/bench"),
        help="where generated snapshots are kept between runs",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per scale (medians are shown)")
    args = parser.parse_args()
    for scale in args.scale or [10.0]:
        runs = [run(scale, args.url, args.workdir) for _ in range(args.repeat)]
        bare = statistics.median(r["bare_s"] for r in runs)
        platform = statistics.median(r["platform_s"] for r in runs)
        memory = sorted(r["peak_mb"] for r in runs)
        print(
            f"median of {args.repeat} at scale {scale:g}: bare COPY {bare:.2f}s,"
            f" platform {platform:.2f}s, ratio of medians {bare / platform:.2f},"
            f" peak RSS {memory[0]:,.0f}-{memory[-1]:,.0f} MB"
        )


if __name__ == "__main__":
    main()
