"""The container's contract without Docker: the wheel, installed with the locked runtime
dependencies into a fresh virtual environment, runs what the compose services run, from a
working directory outside the repository: the code server (gRPC), the webserver and the
daemon on a Postgres-backed instance, the sampler against the replay exchange and its
health check; a snapshot load from S3 and a marts run launched through the webserver."""

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from bitso_platform.devtools.generate import START_DAY
from bitso_platform_tests.e2e.conftest import (
    ROOT,
    eventually,
    free_port,
    platform,
    run_bitso,
    sampling,
    spawn,
    stop,
    webserver_and_daemon,
)
from bitso_platform_tests.e2e.graphql import Dagster

# Two minutes of the real capture, replayed 20x faster than real time.
FEED = ("2024-07-16T23:40:00+00:00", "2024-07-16T23:42:05+00:00")
SPEED = "20"
DAYS = [(START_DAY + timedelta(days=offset)).isoformat() for offset in range(2)]
WORKSPACE = """load_from:
  - grpc_server:
      host: 127.0.0.1
      port: {port}
      location_name: bitso_platform
"""


@contextmanager
def code_server(bin_dir: Path, cwd: Path, env: dict[str, str], logs: Path) -> Iterator[int]:
    """`dagster code-server start -m bitso_platform.definitions` as the compose `code`
    service runs it, healthy by its compose health check; yields its port."""
    port = free_port()
    command = [str(bin_dir / "dagster"), "code-server", "start", "-h", "127.0.0.1"]
    server = spawn(
        [*command, "-p", str(port), "-m", "bitso_platform.definitions"], env, logs / "code.log", cwd
    )
    health = [str(bin_dir / "dagster"), "api", "grpc-health-check", "-p", str(port)]

    def healthy() -> bool:
        if server.poll() is not None:
            raise RuntimeError(f"the code server exited; see {logs}/code.log")
        return subprocess.run(health, cwd=cwd, env=env, capture_output=True).returncode == 0

    try:
        eventually(healthy, "the code server is healthy", timeout=180)
        yield port
    finally:
        stop([server])


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The services' working directory: a new directory outside the repository."""
    directory = tmp_path_factory.mktemp("deployment")
    assert not directory.resolve().is_relative_to(ROOT)
    return directory


@pytest.fixture(scope="module")
def env(
    tmp_path_factory: pytest.TempPathFactory, postgres_server_url: str, s3_endpoint: str
) -> Iterator[dict[str, str]]:
    with platform(tmp_path_factory, postgres_server_url, s3_endpoint) as services_env:
        # Only the installed package is importable: nothing from the source tree.
        services_env.pop("PYTHONPATH", None)
        yield services_env


@pytest.fixture(scope="module")
def deployed(
    installed_bin: Path,
    outside: Path,
    env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Dagster]:
    """Code server, webserver and daemon from the installed wheel, the workspace reaching
    the code server over gRPC as deploy/workspace.yaml does."""
    logs = tmp_path_factory.mktemp("installed_logs")
    with code_server(installed_bin, outside, env, logs) as port:
        (outside / "workspace.yaml").write_text(WORKSPACE.format(port=port))
        with webserver_and_daemon(env, logs, bin_dir=installed_bin, cwd=outside) as dagster:
            yield dagster


def test_the_installed_sampler_records_the_replayed_feed_and_its_health_check_passes(
    installed_bin: Path, outside: Path, env: dict[str, str], tmp_path: Path
) -> None:
    with sampling(
        env, tmp_path, feed=FEED, speed=SPEED, seconds="120", bin_dir=installed_bin, cwd=outside
    ) as sampler:
        assert sampler.wait(timeout=120) == 0, (tmp_path / "sampler.log").read_text()
    health = run_bitso(
        env, "ticker", "health", "--max-age", "600", bin_dir=installed_bin, cwd=outside
    )

    assert health.returncode == 0, health.stdout + health.stderr
    with psycopg.connect(env["BITSO_WAREHOUSE_URL"]) as conn:
        books = conn.execute("select distinct book from ticker.spread_observations").fetchall()
    assert sorted(book for (book,) in books) == ["btc_mxn", "usd_mxn"]


def test_a_snapshot_load_from_s3_and_a_marts_run_launched_through_the_webserver_succeed(
    deployed: Dagster, env: dict[str, str]
) -> None:
    load = deployed.launch_run(job="load_snapshots")
    assert deployed.wait_for_run(load) == "SUCCESS", deployed.failures(load)
    backfill = deployed.launch_backfill(deployed.asset_keys("marts"), DAYS)
    assert deployed.wait_for_backfill(backfill).startswith("COMPLETED")
    for run in deployed.backfill_runs(backfill, DAYS[0], DAYS[-1]):
        assert run["status"] == "SUCCESS", deployed.failures(run["runId"])
    with psycopg.connect(env["BITSO_WAREHOUSE_URL"]) as conn:
        built = conn.execute("select distinct day::text from marts.daily_kpis order by 1")
        assert [day for (day,) in built] == DAYS
