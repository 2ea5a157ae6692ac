"""What CLI commands share: configured resources and the Dagster instance."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from bitso_platform.defs.resources import build_resources
from bitso_platform.settings import state_dir


@contextmanager
def configured_resources() -> Iterator[Any]:
    """The code location's resources with BITSO_* configuration resolved."""
    with dg.build_resources(build_resources()) as resources:
        yield resources


def dagster_instance() -> dg.DagsterInstance:
    """The instance at DAGSTER_HOME, by default a folder under the state folder, so runs
    started here show up in `dagster dev` (`make dev` uses the same folder)."""
    if not os.environ.get("DAGSTER_HOME"):
        home = state_dir() / "dagster"
        home.mkdir(parents=True, exist_ok=True)
        config = home / "dagster.yaml"
        if not config.exists():
            config.write_text("telemetry:\n  enabled: false\n")
        os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def run_job(
    job_name: str, *, tags: dict[str, str] | None = None, quiet: bool = True
) -> dg.ExecuteInProcessResult:
    """Execute a job of the code location in this process, on the persistent instance."""
    from bitso_platform.definitions import defs

    run_config = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}} if quiet else {}
    return (
        defs()
        .resolve_job_def(job_name)
        .execute_in_process(
            instance=dagster_instance(), tags=tags, run_config=run_config, raise_on_error=False
        )
    )
