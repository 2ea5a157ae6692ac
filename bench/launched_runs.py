"""Benchmark of the marts' runs as a deployment executes them: launched, on the job's executor.

A run launched from the UI, a schedule or a backfill is executed by a run worker on the
job's own executor (`dagster api execute_run`; here `dg.execute_job` of the reconstructable
job, the same path). This measures the full backfill and one day of the marts (those of the
eight questions, or every mart) on the code location's executor
(`bitso_platform/defs/executor.py`: one day in the run's process, a backfill's steps side by
side) against every step in the run's process, and, with --multiprocess, Dagster's default
executor (a process per step, spawned, in no order of priority).

Run: .venv/bin/python bench/launched_runs.py [--scale 10] [--marts questions|every] [--repeat 3]
     .venv/bin/python bench/launched_runs.py --loaded URL [--loaded-scale 100] [--marts ...]
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
    FEATURE_MARTS,
    FIRST_DAY,
    LAST_DAY,
    QUESTION_MARTS,
    dagster_instance,
    load_run,
    quiet_logging,
    run_config,
    throwaway_database,
)

from bitso_platform.definitions import defs
from bitso_platform.defs.executor import in_process_or_parallel
from bitso_platform.defs.marts.assets import asset_key
from bitso_platform.defs.marts.partitions import partition_tags
from bitso_platform.defs.marts.schedules import SEGMENTS_CHECK
from bitso_platform.devtools.generate import generate_snapshots

MARTS = {"questions": QUESTION_MARTS, "every": QUESTION_MARTS + FEATURE_MARTS}


def marts_job(executor: dg.ExecutorDefinition) -> dg.JobDefinition:
    """daily_marts restricted to --marts (BENCH_MARTS, set by `main`), on `executor`."""
    marts = MARTS[os.environ["BENCH_MARTS"]]
    selection = dg.AssetSelection.assets(*(asset_key(mart) for mart in marts))
    job = dg.define_asset_job(
        f"bench_marts_{executor.name}",
        selection=selection - dg.AssetSelection.checks(SEGMENTS_CHECK),
        executor_def=executor,
    )
    return dg.Definitions.merge(defs(), dg.Definitions(jobs=[job])).resolve_job_def(job.name)


def code_location_job() -> dg.JobDefinition:
    return marts_job(in_process_or_parallel)


def in_process_job() -> dg.JobDefinition:
    return marts_job(dg.in_process_executor)


def multiprocess_job() -> dg.JobDefinition:
    return marts_job(dg.multiprocess_executor.configured({"max_concurrent": os.cpu_count()}))


EXECUTORS = {
    "the code location's (side by side over many days)": code_location_job,
    "every step in the run's process": in_process_job,
}


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


def measure(url: str, scale: float, repeat: int, multiprocess: bool) -> str:
    marts = os.environ["BENCH_MARTS"]
    executors = dict(EXECUTORS)
    if multiprocess:
        executors["a process per step (Dagster's default)"] = multiprocess_job
    lines = [
        f"{marts} marts launched at scale {scale:g}, seconds (one day: best of {repeat})",
        "",
        f"| executor | full backfill {FIRST_DAY}..{LAST_DAY} | one day {LAST_DAY} |",
        "|---|---:|---:|",
    ]
    with dagster_instance(ADMIN_URL) as instance:
        for label, job_fn in executors.items():
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
    parser.add_argument("--marts", choices=tuple(MARTS), default="every")
    parser.add_argument("--multiprocess", action="store_true", help="Also Dagster's default.")
    args = parser.parse_args()
    # Read by the job functions, which the steps' processes call again to rebuild the job.
    os.environ["BENCH_MARTS"] = args.marts
    quiet_logging()
    if args.loaded:
        print(measure(args.loaded, args.loaded_scale, args.repeat, args.multiprocess))
        return
    with (
        tempfile.TemporaryDirectory() as snapshots,
        throwaway_database(ADMIN_URL, keep=False) as url,
    ):
        generate_snapshots(Path(snapshots), scale=args.scale, seed=args.seed)
        load_run(url, Path(snapshots))
        print(measure(url, args.scale, args.repeat, args.multiprocess))


if __name__ == "__main__":
    main()
