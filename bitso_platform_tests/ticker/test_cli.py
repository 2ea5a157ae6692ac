"""`bitso ticker run` and `bitso ticker replay`, end to end on loopback."""

import contextlib
import os
import pty
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from bitso_platform.cli import main
from bitso_platform.devtools.replay import Observation, ReplayThread
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform_tests.conftest import REAL_TICKER
from bitso_platform_tests.ticker.conftest import at, grid, stored

Slice = Callable[[int, int], list[Observation]]
Replay = Callable[..., ReplayThread]


def test_ticker_run_records_a_replayed_slice_into_the_configured_warehouse(
    warehouse: Warehouse, warehouse_url: str, replay: Replay, fixture_slice: Slice
) -> None:
    start = at("22:26:00")
    exchange = replay(fixture_slice(start, 10), speed=20)
    env = {
        "BITSO_WAREHOUSE_URL": warehouse_url,
        "BITSO_API_URL": exchange.api_url,
        "BITSO_WS_URL": exchange.ws_url,
        "BITSO_BOOKS": "btc_mxn,usd_mxn",
    }

    result = CliRunner().invoke(main, ["ticker", "run", "--speed", "20", "--for", "10"], env=env)

    assert result.exit_code == 0, result.output
    assert "recorded 10 s" in result.output and "coverage 100.00%" in result.output
    assert {(row.book, row.second) for row in stored(warehouse)} == grid(start, 10)


def test_ticker_replay_serves_a_file_slice_and_reports_what_it_replayed() -> None:
    arguments = [
        "ticker",
        "replay",
        str(REAL_TICKER),
        "--port",
        "0",
        "--speed",
        "50",
        "--from",
        "2024-07-16T22:30:00+00:00",
        "--until",
        "2024-07-16T22:30:10+00:00",
        "--linger",
        "0",
    ]

    result = CliRunner().invoke(main, arguments)

    assert result.exit_code == 0, result.output
    assert "replayed 10 s" in result.output


def test_ticker_replay_shows_the_seconds_replayed_of_the_total_as_plain_lines() -> None:
    window = ["--from", "2024-07-16T22:30:00+00:00", "--until", "2024-07-16T22:30:10+00:00"]
    options = ["--port", "0", "--speed", "50", "--linger", "0", *window]

    result = CliRunner().invoke(main, ["ticker", "replay", str(REAL_TICKER), *options])

    assert result.exit_code == 0, result.output
    last = [line for line in result.stderr.splitlines() if line.startswith("replay: ")][-1]
    assert re.match(r"replay: 10 of 10 s replayed, [\d,]+ order messages sent, ", last)
    assert "\r" not in result.stderr  # plain lines: stderr is not a terminal


def test_ticker_replay_on_a_terminal_shows_one_updating_line() -> None:
    window = ["--from", "2024-07-16T22:30:00+00:00", "--until", "2024-07-16T22:30:10+00:00"]
    options = ["--port", "0", "--speed", "50", "--linger", "0", *window]
    bitso = Path(sys.executable).with_name("bitso")
    reader, writer = pty.openpty()
    with subprocess.Popen(
        [str(bitso), "ticker", "replay", str(REAL_TICKER), *options],
        stdout=subprocess.DEVNULL,
        stderr=writer,
    ) as replay:
        os.close(writer)
        written = _read_until_closed(reader)
    assert replay.returncode == 0, written

    assert re.search(r"\r\x1b\[2Kreplay: 10 of 10 s replayed, [\d,]+ order messages sent", written)


def _read_until_closed(reader: int) -> str:
    chunks = []
    with contextlib.suppress(OSError):  # EIO: the command ended and closed the terminal
        while chunk := os.read(reader, 4096):
            chunks.append(chunk)
    os.close(reader)
    return b"".join(chunks).decode()


def test_an_invalid_book_list_is_refused_with_what_to_set() -> None:
    result = CliRunner().invoke(main, ["ticker", "run"], env={"BITSO_BOOKS": "btc-mxn"})

    assert result.exit_code == 2
    assert "BITSO_BOOKS" in result.output


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (["ticker", "run"], ["--speed", "--for", "--rest-budget", "--log-every", "--verbose"]),
        (
            ["ticker", "replay"],
            [
                "--speed",
                "--mode",
                "--host",
                "--port",
                "--from",
                "--until",
                "--rest-limit",
                "--linger",
            ],
        ),
        (["ticker", "health"], ["--max-age", "BITSO_BOOKS", "BITSO_WAREHOUSE_URL"]),
    ],
)
def test_every_ticker_command_documents_its_options(command: list[str], options: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])

    assert result.exit_code == 0
    assert all(option in result.output for option in options)
