"""What CLI commands share: configured resources and the Dagster instance."""

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import dagster as dg

from bitso_platform.cli.config import current_settings
from bitso_platform.cli.progress import Progress
from bitso_platform.dagster_storage import EVENT_BATCH_SIZE
from bitso_platform.defs.resources import build_resources
from bitso_platform.settings import Settings

FOLLOW_POLL_SECONDS = 1.0
LOCAL_INSTANCE = """\
telemetry:
  enabled: false
storage:
  custom:
    module: bitso_platform.dagster_storage
    class: EmbeddedPostgresStorage
    config:
      state_dir: {state_dir}
"""


@contextmanager
def configured_resources(settings: Settings | None = None) -> Iterator[Any]:
    """The code location's resources, configured by `settings` (default: this invocation's)."""
    bound = build_resources(settings or current_settings(), env_vars=False)
    with dg.build_resources(bound) as resources:
        yield resources


def dagster_instance() -> dg.DagsterInstance:
    """The instance at DAGSTER_HOME, by default `local_dagster_home()`."""
    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(local_dagster_home())
    # Write a run's planned and materialization events in bulk (the storages that can).
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)
    return dg.DagsterInstance.get()


def local_dagster_home() -> Path:
    """The Dagster home under the state folder, shared with `make dev` so that runs started
    from the command line show up in the UI. A new one keeps its runs and events in the
    embedded Postgres server (EmbeddedPostgresStorage); an existing dagster.yaml is kept."""
    state_dir = current_settings().state_dir
    home = state_dir / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(LOCAL_INSTANCE.format(state_dir=json.dumps(str(state_dir))))
    return home


@dataclass(frozen=True)
class FinishedRun:
    """What a command reads of a run that ended: whether it succeeded, and its events."""

    run_id: str
    success: bool
    all_events: list[dg.DagsterEvent]


def run_job(
    job_name: str,
    *,
    tags: dict[str, str] | None = None,
    resource_config: Mapping[str, Mapping[str, Any]] | None = None,
    run_config: Mapping[str, Any] | None = None,
    quiet: bool = True,
    progress: Progress | None = None,
) -> FinishedRun:
    """Run a job of the code location on the instance at DAGSTER_HOME and wait for its end.

    On a deployment's instance (its home holds the workspace.yaml that its webserver and
    daemon load, as deploy/ installs it) the run is submitted through the instance's run
    coordinator, so its queue, launcher and run monitoring apply, and followed to its end;
    the local default instance (no workspace.yaml) executes it in this process.
    `resource_config` overrides fields of the bound resources for this run only (its run
    config shows them), e.g. `{"snapshot_source": {"url": "drop/"}}`; `run_config` adds the
    rest of the run's config (e.g. its ops' config). `progress` is shown every event of the
    run as it is stored, in both cases (default: a Progress showing the steps' progress lines).
    """
    run_config = {
        **(run_config or {}),
        "resources": {
            key: {"config": dict(config)} for key, config in (resource_config or {}).items()
        },
    }
    if quiet:
        run_config["loggers"] = {"console": {"config": {"log_level": "CRITICAL"}}}
    instance = dagster_instance()
    progress = progress or Progress()
    workspace = Path(instance.root_directory) / "workspace.yaml"
    if not workspace.is_file():
        from bitso_platform.definitions import defs

        run_id = str(uuid.uuid4())
        instance.add_event_listener(run_id, progress.event)
        result = (
            defs()
            .resolve_job_def(job_name)
            .execute_in_process(
                instance=instance,
                tags=tags,
                run_config=run_config,
                run_id=run_id,
                raise_on_error=False,
            )
        )
        progress.close()
        return FinishedRun(result.run_id, result.success, result.all_events)
    run_id = _submit(workspace, job_name, tags or {}, run_config)
    return _follow(instance, run_id, progress)


def _submit(workspace: Path, job_name: str, tags: dict[str, str], run_config: dict) -> str:
    """Submit a run through the instance's run coordinator (`dagster job launch`), in the
    code location `workspace` names, as the deployment's UI would."""
    run_id = str(uuid.uuid4())
    launched = subprocess.run(
        [
            *(sys.executable, "-m", "dagster", "job", "launch", "-w", str(workspace)),
            *("-j", job_name, "--run-id", run_id, "--tags", json.dumps(tags)),
            *("--config-json", json.dumps(run_config)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if launched.returncode != 0:
        reason = (launched.stderr.strip().splitlines() or ["no output"])[-1]
        raise click.ClickException(f"could not submit the {job_name} run: {reason}")
    click.echo(f"submitted run {run_id} ({job_name}) to the instance's run queue", err=True)
    return run_id


def _follow(instance: dg.DagsterInstance, run_id: str, progress: Progress) -> FinishedRun:
    """Poll the run until it ends, showing its status changes, steps and progress lines."""
    cursor, status, events = None, None, []
    while True:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status != status:
            status = run.status
            progress.echo(f"  run {run_id}: {status.value.lower()}")
        page = instance.get_records_for_run(run_id, cursor=cursor)
        cursor = page.cursor
        for record in page.records:
            progress.event(record.event_log_entry)
            event = record.event_log_entry.dagster_event
            if event is not None:
                events.append(event)
                _echo_step(event, progress)
        if run is not None and run.is_finished and not page.has_more:
            progress.close()
            return FinishedRun(run_id, run.is_success, events)
        if not page.has_more:
            time.sleep(FOLLOW_POLL_SECONDS)


def _echo_step(event: dg.DagsterEvent, progress: Progress) -> None:
    if event.is_step_start or event.is_step_success or event.is_step_failure:
        verb = "started" if event.is_step_start else "done" if event.is_step_success else "FAILED"
        progress.echo(f"  {verb}: {event.step_key}")


CHECK_OUTCOMES = ("passed", "warned", "failed")  # from best to worst


def check_outcome(evaluation: dg.AssetCheckEvaluation) -> str:
    """passed, warned (a WARN check that did not pass) or failed."""
    if evaluation.passed:
        return "passed"
    return "warned" if evaluation.severity == dg.AssetCheckSeverity.WARN else "failed"


if __name__ == "__main__":  # `make dev`: the home to start `dagster dev` in
    print(local_dagster_home())
