"""Where the whole load's memory goes: the load_snapshots job, step by step.

Runs the job (five files and core, one run) on the snapshots of `bitso generate --scale S
--seed 1` (generated into --workdir if missing, as bench/scale.py does) into a throwaway
database, in this process, which does nothing else: a sampler thread reads the process's
RSS every 20 ms, and each step's peak is the highest sample between its start and its
success in the run's event log. Prints each step's seconds and peak, the RSS before the
run (imports and definitions), and the process's peak (VmHWM), the number bench/scale.py
reports as "loader peak RSS".

Run: .venv/bin/python bench/load_memory.py --scale 10 [--workdir DIR] [--postgres-url URL]
"""

import argparse
import os
import threading
import time
from pathlib import Path
from unittest import mock

import dagster as dg
from marts import ADMIN_URL, quiet_logging, run_config, throwaway_database  # bench/marts.py
from scale import peak_rss_mb, snapshots  # bench/scale.py

from bitso_platform.definitions import defs


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


class Sampler(threading.Thread):
    """(time, RSS MB) every 20 ms, for as long as the process runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []

    def run(self) -> None:
        while True:
            self.samples.append((time.time(), rss_mb()))
            time.sleep(0.02)

    def peak(self, start: float, end: float) -> float:
        return max((mb for at, mb in self.samples if start <= at <= end), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0, help="default 10")
    parser.add_argument("--workdir", type=Path, default=Path(".bitso/bench"))
    parser.add_argument("--postgres-url", default=ADMIN_URL, help="an admin URL")
    args = parser.parse_args()
    quiet_logging()
    folder = snapshots(args.workdir, args.scale, seed=1)
    sampler = Sampler()
    sampler.start()
    with throwaway_database(args.postgres_url, keep=False) as url:
        instance = dg.DagsterInstance.ephemeral()
        config = run_config(warehouse={"url": url}, snapshot_source={"url": str(folder)})
        with mock.patch.dict(os.environ, {"BITSO_WAREHOUSE_URL": url}):
            job = defs().resolve_job_def("load_snapshots")
            before = rss_mb()
            started = time.perf_counter()
            result = job.execute_in_process(instance=instance, run_config=config)
            wall = time.perf_counter() - started
    print(f"scale {args.scale:g}: RSS before the run {before:.0f} MB")
    print("| step | s | peak RSS MB |\n|---|---:|---:|")
    starts: dict[str, float] = {}
    for record in instance.all_logs(result.run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.is_step_start:
            starts[event.step_key] = record.timestamp
        elif event.is_step_success:
            start, end = starts[event.step_key], record.timestamp
            peak = sampler.peak(start, end)
            print(f"| {event.step_key} | {end - start:.1f} | {peak:.0f} |")
    print(f"whole load {wall:.1f} s, process peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
