"""Benchmark of the daily_marts job as a deployment executes it: launched, on the job's executor.

A run launched from the UI, a schedule or a backfill is executed by a run worker on the
job's own executor (`dagster api execute_run`; here `dg.execute_job` of the reconstructable
job, the same path). This measures every mart's one-day run and full backfill on the code
location's executor (every step in the run's process) against Dagster's default
multiprocess executor (a process per step, two at a time on this machine's two cores).

Run: .venv/bin/python bench/launched_runs.py [--scale 10] [--repeat 3]
     .venv/bin/python bench/launched_runs.py --loaded URL [--loaded-scale 10]
"""

import argparse
import os
import tempfile
import time
from datetime import date
from pathlib import Path

import dagster as dg
from marts import (  # bench/marts.py
    ADMIN_URL,
    FIRST_DAY,
    LAST_DAY,
    dagster_instance,
    load_run,
    quiet_logging,
    run_config,
    throwaway_database,
)

from bitso_platform.definitions import defs
from bitso_platform.defs.marts.partitions import partition_tags
from bitso_platform.defs.marts.schedules import daily_marts_job
from bitso_platform.devtools.generate import generate_snapshots


def code_location_job() -> dg.JobDefinition:
    """daily_marts as the code location defines it."""
    return defs().resolve_job_def("daily_marts")


def multiprocess_job() -> dg.JobDefinition:
    """daily_marts on Dagster's default executor, for comparison."""
    job = daily_marts_job()
    job = dg.define_asset_job(
        "daily_marts_multiprocess",
        selection=job.selection,
        executor_def=dg.multiprocess_executor.configured({"max_concurrent": os.cpu_count()}),
    )
    return dg.Definitions.merge(defs(), dg.Definitions(jobs=[job])).resolve_job_def(job.name)


EXECUTORS = {"in the run's process": code_location_job, "a process per step": multiprocess_job}


def launch(instance: dg.DagsterInstance, url: str, job_fn, first: date, last: date) -> float:
    started = time.perf_counter()
    result = dg.execute_job(
        dg.reconstructable(job_fn),
        instance=instance,
        tags=partition_tags(first, last),
        run_config=run_config(warehouse={"url": url}),
    )
    if not result.success:
        raise RuntimeError(f"the {job_fn.__name__} run over {first}..{last} failed")
    return time.perf_counter() - started


def measure(url: str, scale: float, repeat: int) -> str:
    lines = [
        f"daily_marts launched at scale {scale:g}, seconds (one day: best of {repeat})",
        "",
        f"| executor | full backfill {FIRST_DAY}..{LAST_DAY} | one day {LAST_DAY} |",
        "|---|---:|---:|",
    ]
    with dagster_instance(ADMIN_URL) as instance:
        for label, job_fn in EXECUTORS.items():
            backfill = launch(instance, url, job_fn, FIRST_DAY, LAST_DAY)
            day = min(launch(instance, url, job_fn, LAST_DAY, LAST_DAY) for _ in range(repeat))
            lines.append(f"| {label} | {backfill:.1f} | {day:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--loaded", metavar="URL", help="A database `bitso load` has loaded.")
    parser.add_argument("--loaded-scale", type=float, default=float("nan"))
    args = parser.parse_args()
    quiet_logging()
    if args.loaded:
        print(measure(args.loaded, args.loaded_scale, args.repeat))
        return
    with (
        tempfile.TemporaryDirectory() as snapshots,
        throwaway_database(ADMIN_URL, keep=False) as url,
    ):
        generate_snapshots(Path(snapshots), scale=args.scale, seed=args.seed)
        load_run(url, Path(snapshots))
        print(measure(url, args.scale, args.repeat))


if __name__ == "__main__":
    main()
