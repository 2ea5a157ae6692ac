"""What CLI commands share: configured resources and the Dagster instance."""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from bitso_platform.dagster_storage import EVENT_BATCH_SIZE
from bitso_platform.defs.resources import build_resources
from bitso_platform.settings import state_dir

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
def configured_resources() -> Iterator[Any]:
    """The code location's resources with BITSO_* configuration resolved."""
    with dg.build_resources(build_resources()) as resources:
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
    home = state_dir() / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(LOCAL_INSTANCE.format(state_dir=json.dumps(str(state_dir()))))
    return home


def run_job(
    job_name: str,
    *,
    tags: dict[str, str] | None = None,
    quiet: bool = True,
    run_config: dict[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    """Execute a job of the code location in this process, on the persistent instance."""
    from bitso_platform.definitions import defs

    loggers = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}} if quiet else {}
    run_config = {**loggers, **(run_config or {})}
    return (
        defs()
        .resolve_job_def(job_name)
        .execute_in_process(
            instance=dagster_instance(), tags=tags, run_config=run_config, raise_on_error=False
        )
    )


if __name__ == "__main__":  # `make dev`: the home to start `dagster dev` in
    print(local_dagster_home())
