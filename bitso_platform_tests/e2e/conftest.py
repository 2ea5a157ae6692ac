"""The production path, natively: dagster-webserver and dagster-daemon as processes, with
instance storage in Postgres (dagster-postgres), snapshots and lake on the S3 test server."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import psycopg
import pytest

from bitso_platform.generate import generate_snapshots
from bitso_platform.snapshots.spec import SNAPSHOTS
from bitso_platform_tests.conftest import temporary_databases
from bitso_platform_tests.e2e.graphql import Dagster

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A service process from the repository root, its output in `log`."""
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def dagster_yaml(storage_url: str) -> str:
    """The compose instance (deploy/dagster.yaml: dagster-postgres, bulk planned events) on the
    test Postgres; queued runs, so the daemon launches them."""
    params = psycopg.conninfo.conninfo_to_dict(storage_url)
    return f"""
storage:
  custom:
    module: bitso_platform.dagster_storage
    class: BulkPlannedPostgresStorage
    config:
      postgres_db:
        hostname: "{params.get("host", "127.0.0.1")}"
        port: {params.get("port", 5432)}
        username: "{params.get("user", "postgres")}"
        password: "{params.get("password", "")}"
        db_name: "{params["dbname"]}"
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 2
telemetry:
  enabled: false
"""


def wait_for_location(dagster: Dagster, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    query = """
        query { workspaceOrError { ... on Workspace {
          locationEntries { name loadStatus
            locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("dagster-webserver exited; see its log")
        try:
            entries = dagster.query(query)["workspaceOrError"]["locationEntries"]
        except httpx.HTTPError:
            time.sleep(1)
            continue
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            errors = [e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
            if errors:
                raise RuntimeError(f"code location failed to load: {errors}")
            return
        time.sleep(1)
    raise TimeoutError("the code location did not load in time")


@pytest.fixture(scope="package")
def services(
    tmp_path_factory: pytest.TempPathFactory, postgres_server_url: str, s3_endpoint: str
) -> Iterator[Dagster]:
    """Webserver + daemon on a Postgres-backed instance; BITSO_* point at test services."""
    home = tmp_path_factory.mktemp("dagster_home")
    logs = tmp_path_factory.mktemp("logs")
    bucket = f"bitso-e2e-{os.getpid()}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket=bucket)
    snapshots = tmp_path_factory.mktemp("snapshots")
    generate_snapshots(snapshots, scale=0.02, seed=11, defects=True)
    for snapshot in SNAPSHOTS.values():
        s3.upload_file(str(snapshots / snapshot.file), bucket, f"drop/{snapshot.file}")
    with temporary_databases(postgres_server_url) as new_database:
        warehouse_url, storage_url = new_database(), new_database()
        (home / "dagster.yaml").write_text(dagster_yaml(storage_url))
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "DAGSTER_EVENT_BATCH_SIZE": "10000",  # as in docker-compose.yml
            "BITSO_WAREHOUSE_URL": warehouse_url,
            "BITSO_SNAPSHOTS_URL": f"s3://{bucket}/drop",
            "BITSO_LAKE_URL": f"s3://{bucket}/lake",
            "BITSO_S3_ENDPOINT_URL": s3_endpoint,
            "BITSO_STATE_DIR": str(tmp_path_factory.mktemp("state")),
        }
        port = free_port()
        commands = {
            "webserver": [
                str(BIN / "dagster-webserver"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-w",
                "workspace.yaml",
            ],
            "daemon": [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        }
        processes = {
            name: spawn(command, env, logs / f"{name}.log") for name, command in commands.items()
        }
        try:
            dagster = Dagster(f"http://127.0.0.1:{port}/graphql")
            wait_for_location(dagster, processes["webserver"])
            dagster.env = env  # type: ignore[attr-defined]
            dagster.logs = logs  # type: ignore[attr-defined]
            yield dagster
        finally:
            stop(list(processes.values()))
