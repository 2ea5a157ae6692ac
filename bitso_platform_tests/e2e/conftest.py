"""The production path, natively: dagster-webserver and dagster-daemon as processes, with
instance storage in Postgres (dagster-postgres), snapshots and lake on the S3 test server.
The services run from a bin directory and a working directory: by default this
environment's and the repository's; the installed-wheel test passes its own."""

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import psycopg
import pytest

from bitso_platform.devtools.generate import generate_snapshots
from bitso_platform.snapshots.spec import SNAPSHOTS
from bitso_platform_tests.conftest import REAL_TICKER, temporary_databases
from bitso_platform_tests.e2e.graphql import Dagster

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def spawn(command: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    """A service process run from `cwd`, its output in `log`."""
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def eventually(condition: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    """The condition's first truthy value, polled every second."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout}s")
        time.sleep(1)
    return value


def listening(port: int, process: subprocess.Popen) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"the process serving port {port} exited; see its log")
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def run_bitso(
    env: dict[str, str], *arguments: str, bin_dir: Path = BIN, cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(bin_dir / "bitso"), *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


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


@contextmanager
def platform(
    tmp_path_factory: pytest.TempPathFactory, postgres_server_url: str, s3_endpoint: str
) -> Iterator[dict[str, str]]:
    """The environment of the services: a new DAGSTER_HOME whose instance stores in a new
    Postgres database, a new warehouse database, and generated snapshots in a new S3 bucket."""
    home = tmp_path_factory.mktemp("dagster_home")
    bucket = f"bitso-e2e-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket=bucket)
    snapshots = tmp_path_factory.mktemp("snapshots")
    generate_snapshots(snapshots, scale=0.02, seed=11, defects=True)
    for snapshot in SNAPSHOTS.values():
        s3.upload_file(str(snapshots / snapshot.file), bucket, f"drop/{snapshot.file}")
    with temporary_databases(postgres_server_url) as new_database:
        warehouse_url, storage_url = new_database(), new_database()
        (home / "dagster.yaml").write_text(dagster_yaml(storage_url))
        yield {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "DAGSTER_EVENT_BATCH_SIZE": "10000",  # as in docker-compose.yml
            "BITSO_WAREHOUSE_URL": warehouse_url,
            "BITSO_SNAPSHOTS_URL": f"s3://{bucket}/drop",
            "BITSO_LAKE_URL": f"s3://{bucket}/lake",
            "BITSO_S3_ENDPOINT_URL": s3_endpoint,
            "BITSO_STATE_DIR": str(tmp_path_factory.mktemp("state")),
        }


@contextmanager
def webserver_and_daemon(
    env: dict[str, str], logs: Path, *, bin_dir: Path = BIN, cwd: Path = ROOT
) -> Iterator[Dagster]:
    """dagster-webserver and dagster-daemon on `cwd`/workspace.yaml, once it has loaded."""
    port = free_port()
    commands = {
        "webserver": [
            *(str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port)),
            *("-w", "workspace.yaml"),
        ],
        "daemon": [str(bin_dir / "dagster-daemon"), "run", "-w", "workspace.yaml"],
    }
    processes = {
        name: spawn(command, env, logs / f"{name}.log", cwd) for name, command in commands.items()
    }
    try:
        dagster = Dagster(f"http://127.0.0.1:{port}/graphql")
        wait_for_location(dagster, processes["webserver"])
        dagster.env = env  # type: ignore[attr-defined]
        dagster.logs = logs  # type: ignore[attr-defined]
        yield dagster
    finally:
        stop(list(processes.values()))


@contextmanager
def sampling(
    env: dict[str, str],
    logs: Path,
    *,
    feed: tuple[str, str],
    speed: str,
    seconds: str,
    bin_dir: Path = BIN,
    cwd: Path = ROOT,
) -> Iterator[subprocess.Popen]:
    """The replay exchange serving `feed` of the real capture, and `bitso ticker run`
    sampling it at `speed` for `seconds`."""
    port = free_port()
    env = {
        **env,
        "BITSO_API_URL": f"http://127.0.0.1:{port}",
        "BITSO_WS_URL": f"ws://127.0.0.1:{port}/",
    }
    replay = spawn(
        [
            *(str(bin_dir / "bitso"), "ticker", "replay", str(REAL_TICKER), "--speed", speed),
            *("--port", str(port), "--from", feed[0], "--until", feed[1]),
            *("--wait-for-client", "--linger", "60"),
        ],
        env,
        logs / "replay.log",
        cwd,
    )
    eventually(lambda: listening(port, replay), "the replay exchange listens", timeout=30)
    process = spawn(
        [str(bin_dir / "bitso"), "ticker", "run", "--speed", speed, "--for", seconds],
        env,
        logs / "sampler.log",
        cwd,
    )
    try:
        yield process
    finally:
        stop([process, replay])


@pytest.fixture(scope="package")
def services(
    tmp_path_factory: pytest.TempPathFactory, postgres_server_url: str, s3_endpoint: str
) -> Iterator[Dagster]:
    """Webserver + daemon on a Postgres-backed instance; BITSO_* point at test services."""
    logs = tmp_path_factory.mktemp("logs")
    with (
        platform(tmp_path_factory, postgres_server_url, s3_endpoint) as env,
        webserver_and_daemon(env, logs) as dagster,
    ):
        yield dagster
