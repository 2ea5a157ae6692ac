"""Commands start runs on the Dagster instance: a deployment's queue and launcher apply."""

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from bitso_platform.cli import main
from bitso_platform.devtools.generate import generate_snapshots
from bitso_platform.snapshots.spec import SNAPSHOTS

QUEUED_INSTANCE = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 1
    dequeue_interval_seconds: 1
"""
WORKSPACE = """\
load_from:
  - python_module:
      module_name: bitso_platform.definitions
      location_name: bitso_platform
"""


@pytest.fixture
def deployment(
    tmp_path: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A Dagster home with a run queue and its workspace, and a daemon serving the queue."""
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(QUEUED_INSTANCE)
    (home / "workspace.yaml").write_text(WORKSPACE)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("BITSO_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("BITSO_STATE_DIR", str(tmp_path / "state"))
    daemon_bin = Path(sys.executable).with_name("dagster-daemon")
    with open(tmp_path / "daemon.log", "wb") as log:
        daemon = subprocess.Popen(
            [str(daemon_bin), "run", "-w", str(home / "workspace.yaml")],
            env=dict(os.environ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield home
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)


def test_on_a_deployment_a_command_queues_its_run_and_follows_it_to_the_end(
    deployment: Path, tmp_path: Path
) -> None:
    snapshots = tmp_path / "drop"
    generate_snapshots(snapshots, scale=0.01, seed=3)

    result = CliRunner().invoke(main, ["load", "--snapshots", str(snapshots)])

    assert result.exit_code == 0, result.output
    with dg.DagsterInstance.from_config(str(deployment)) as instance:
        # (the daemon may launch other runs meanwhile: its sensors and automation run too)
        (run,) = instance.get_runs(filters=dg.RunsFilter(job_name="load_snapshots"))
        enqueued = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED
        ).records
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert enqueued  # it went through the queue the daemon serves
        assert run.run_config["resources"]["snapshot_source"] == {"config": {"url": str(snapshots)}}
        succeeded = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS
        ).records
    assert f"submitted run {run.run_id} (load_snapshots) to the instance's run queue" in (
        result.output
    )
    assert f"run {run.run_id}: success" in result.output  # followed to the end
    assert succeeded and all(  # progress, step by step, while it ran
        f"done: {r.event_log_entry.step_key}" in result.output for r in succeeded
    )
    for snapshot in SNAPSHOTS.values():  # rows and rows/s per file, from the run's event log
        assert re.search(
            rf"{re.escape(snapshot.file)}: [\d,]+ rows read, [\d,]+ rows/s", result.stderr
        )
    assert "rows_read" in result.output  # the accounting, read after the run ended
