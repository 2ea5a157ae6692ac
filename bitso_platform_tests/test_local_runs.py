"""Local runs as a new user sees them in a root shell, CI or a container (no XDG_RUNTIME_DIR):
quiet commands, an embedded server that `bitso stop` stops, a `make dev` that stops on SIGTERM.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from bitso_platform.embedded_postgres import stop_embedded

ROOT = Path(__file__).resolve().parents[1]
UI_START_SECONDS = 300  # generous: the machine running the tests may be loaded
STOP_SECONDS = 10
NOISE = re.compile(r"Warning|\bINFO\b|DEBUG|PostmasterInfo")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def quiet_env(state: Path) -> dict[str, str]:
    """The environment of a root shell or container: no XDG_RUNTIME_DIR, a fresh state."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BITSO_", "DAGSTER_"))}
    env.pop("XDG_RUNTIME_DIR", None)
    return {**env, "BITSO_STATE_DIR": str(state)}


@pytest.fixture
def state() -> Iterator[Path]:
    """A state folder outside pytest's temporary root. As root, pgserver runs Postgres as user
    `pgserver` and opens the folder's parents to it; another pytest session on the machine
    closes pytest-of-root again (mode 0700), which breaks a server starting meanwhile."""
    folder = Path(tempfile.mkdtemp(prefix="bitso-state-"))
    try:
        yield folder
    finally:
        stop_embedded(folder / "pg")
        shutil.rmtree(folder, ignore_errors=True)


def wait_for_ui(url: str, dev: subprocess.Popen) -> None:
    deadline = time.monotonic() + UI_START_SECONDS
    while time.monotonic() < deadline:
        assert dev.poll() is None, "make dev exited before the UI answered"
        try:
            if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"the UI did not answer at {url} within {UI_START_SECONDS} s")


@pytest.fixture
def make_dev(tmp_path: Path, state: Path) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    """`make dev` on a free port and a fresh state folder, in a session of its own."""
    port = free_port()
    log = tmp_path / "dev.log"
    with log.open("wb") as output:
        dev = subprocess.Popen(
            ["make", "--no-print-directory", "dev", f"DEV_PORT={port}"],
            cwd=ROOT,
            env=quiet_env(state),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield dev, f"http://127.0.0.1:{port}", log
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left of its session
            os.killpg(dev.pid, signal.SIGKILL)


def test_make_dev_starts_without_warnings_and_it_and_its_processes_exit_within_10_s_of_sigterm(
    make_dev: tuple[subprocess.Popen, str, Path],
) -> None:
    dev, url, log = make_dev
    wait_for_ui(url, dev)
    assert [line for line in log.read_text().splitlines() if "Warning" in line] == []
    started = [psutil.Process(dev.pid), *psutil.Process(dev.pid).children(recursive=True)]
    assert len(started) > 2  # make, dagster dev, and the webserver and daemon it runs

    dev.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(started, timeout=STOP_SECONDS)

    assert [p.pid for p in alive] == []


def bitso(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("bitso")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_generate_load_and_quality_on_the_embedded_server_print_no_library_noise(
    tmp_path: Path, state: Path
) -> None:
    env = quiet_env(state)
    snapshots = str(tmp_path / "snapshots")
    runs = [
        bitso("generate", "--out", snapshots, "--scale", "0.01", "--defects", env=env),
        bitso("load", "--snapshots", snapshots, env=env),
        bitso("quality", env=env),
    ]

    assert [run.returncode for run in runs] == [0, 0, 0], [run.stderr for run in runs]
    assert "users" in runs[-1].stdout
    noise = [line for run in runs for line in run.stderr.splitlines() if NOISE.search(line)]
    assert noise == []


def test_starting_the_embedded_server_logs_nothing_when_the_host_logs_at_info(
    state: Path,
) -> None:
    """As `bitso ticker` does, which configures the root logger at INFO."""
    script = (
        "import logging; from pathlib import Path; "
        "from bitso_platform.embedded_postgres import embedded_url; "
        f"logging.basicConfig(level=logging.INFO); embedded_url(Path({str(state / 'pg')!r}))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], env=quiet_env(state), capture_output=True, text=True
    )

    assert run.returncode == 0, run.stderr
    assert run.stderr == ""


def test_bitso_stop_stops_the_embedded_server_and_says_so_when_none_runs(state: Path) -> None:
    env = quiet_env(state)
    folder = state / "pg"
    embedded_url_in_subprocess = (
        "from pathlib import Path; from bitso_platform.embedded_postgres import embedded_url; "
        f"embedded_url(Path({str(folder)!r}))"
    )
    subprocess.run([sys.executable, "-c", embedded_url_in_subprocess], env=env, check=True)
    server = psutil.Process(int((folder / "postmaster.pid").read_text().split()[0]))

    stopped = bitso("stop", env=env)
    again = bitso("stop", env=env)

    assert stopped.returncode == 0 and again.returncode == 0
    assert not server.is_running()
    assert stopped.stdout == f"stopped the embedded Postgres server in {folder}\n"
    assert again.stdout == f"no embedded Postgres server is running in {folder}\n"
    assert stopped.stderr == again.stderr == ""


def test_matplotlib_gets_a_config_folder_under_the_state_folder_when_home_is_not_writable(
    tmp_path: Path,
) -> None:
    (tmp_path / "file").write_text("")
    env = {**quiet_env(tmp_path / "state"), "HOME": str(tmp_path / "file" / "home")}
    env.pop("MPLCONFIGDIR", None)
    env.pop("XDG_CONFIG_HOME", None)
    script = (
        "import os; from bitso_platform.libraries import prepare_matplotlib; "
        "prepare_matplotlib(); import matplotlib.font_manager; print(os.environ['MPLCONFIGDIR'])"
    )
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(tmp_path / "state" / "matplotlib")
    assert run.stderr == ""


def test_make_demo_ends_with_what_to_open_next() -> None:
    commands = subprocess.run(
        ["make", "--no-print-directory", "-n", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()

    assert "make dev" in commands[-1]
    assert "http://127.0.0.1:3000" in commands[-1]
    assert "make stop" in commands[-1] and "bitso stop" in commands[-1]
