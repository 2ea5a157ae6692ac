"""The sampler never goes silently blind: a feed behind its clock, a book that only talks
keep-alives, and SIGTERM / SIGINT (what `docker stop` and Ctrl-C send)."""

import asyncio
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from bitso_platform.cli import main
from bitso_platform.devtools.replay import Observation, ReplayExchange, ReplayThread
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.ticker.sampler import Sampler
from bitso_platform_tests.ticker.conftest import (
    BOOKS,
    at,
    exchange_for,
    sample,
    stored,
    until,
)

WHOLE_STRETCH = (at("22:31:40"), at("22:32:10"))
Slice = Callable[[int, int], list[Observation]]
Replay = Callable[..., ReplayThread]
BITSO = str(Path(sys.executable).parent / "bitso")


def test_an_exchange_restarted_behind_the_samplers_clock_is_followed_and_recorded(
    warehouse: Warehouse,
    replay: Replay,
    fixture_slice: Slice,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = ReplayThread(
        ReplayExchange(fixture_slice(at("22:30:00"), 300), speed=20, start_on_subscribe=True)
    ).__enter__()
    restarted = fixture_slice(at("22:25:00"), 600)  # five minutes behind the sampler's clock
    port = first.exchange.port

    async def restart_the_exchange_behind(sampler: Sampler) -> None:
        await until(lambda: sampler.tally.seconds >= 40)
        await asyncio.to_thread(first.__exit__, None, None, None)
        second = await asyncio.to_thread(replay, restarted, speed=20, port=port)
        await until(lambda: (second.stats().feed_now or "") >= "2024-07-16T22:32:40", 60)
        sampler.stop()

    with caplog.at_level(logging.WARNING, logger="bitso_platform.ticker.sampler"):
        run = sample(
            exchange_for(first),
            warehouse,
            for_seconds=10**6,
            speed=20,
            during=restart_the_exchange_behind,
        )

    assert run.report.clock_resyncs >= 1 and run.report.late_quotes >= 0
    assert "the feed's clock is" in caplog.text and "behind ours" in caplog.text
    # Thirty seconds well after the resync, all recorded: the recording's own hole at 22:32:13
    # is a gap test's subject (test_sampler.py); at 20x, whether its edges are gaps turns on
    # 50 ms of the machine's latency, which would make this test about the machine.
    feed = {(o.book, o.second): (o.bid, o.ask) for o in restarted}
    compared = {(book, second) for book in BOOKS for second in range(*WHOLE_STRETCH)}
    assert compared <= feed.keys()
    after = [r for r in stored(warehouse) if WHOLE_STRETCH[0] <= r.second < WHOLE_STRETCH[1]]
    assert {(r.book, r.second) for r in after if not r.is_gap} == compared
    assert all((r.bid, r.ask) == feed[(r.book, r.second)] for r in after)


def test_a_book_that_gets_only_keepalives_for_a_minute_is_logged_as_an_error_and_unhealthy(
    warehouse: Warehouse,
    warehouse_url: str,
    replay: Replay,
    fixture_slice: Slice,
    caplog: pytest.LogCaptureFixture,
) -> None:
    exchange = replay(fixture_slice(at("22:24:09"), 120), speed=20)
    unknown_book = replace(exchange_for(exchange), books=("btc_mxn", "eth_mxn"))

    with caplog.at_level(logging.ERROR, logger="bitso_platform.ticker.sampler"):
        sample(unknown_book, warehouse, for_seconds=80, speed=20)

    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(re.match(r"eth_mxn: nothing recorded for 6\d s", m) for m in errors), errors
    assert not any(m.startswith("btc_mxn") for m in errors)
    health = CliRunner().invoke(
        main,
        ["ticker", "health"],
        env={"BITSO_WAREHOUSE_URL": warehouse_url, "BITSO_BOOKS": "btc_mxn,eth_mxn"},
    )
    assert health.exit_code == 1 and "eth_mxn: no observation recorded yet" in health.output


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_writes_what_was_sampled_prints_the_summary_and_exits_0_within_5_s(
    warehouse: Warehouse,
    warehouse_url: str,
    replay: Replay,
    fixture_slice: Slice,
    stop_signal: signal.Signals,
) -> None:
    exchange = replay(fixture_slice(at("22:26:00"), 600), speed=20)
    env = {
        **os.environ,
        "BITSO_WAREHOUSE_URL": warehouse_url,
        "BITSO_API_URL": exchange.api_url,
        "BITSO_WS_URL": exchange.ws_url,
        "BITSO_BOOKS": ",".join(BOOKS),
    }
    sampler = subprocess.Popen(
        [BITSO, "ticker", "run", "--speed", "20"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _has_rows(warehouse) and time.monotonic() < deadline:
            time.sleep(0.1)
        sent = time.monotonic()
        sampler.send_signal(stop_signal)
        output, _ = sampler.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if sampler.poll() is None:
            sampler.kill()
            sampler.wait()

    assert sampler.returncode == 0 and took < 5, (sampler.returncode, took)
    summary = re.search(r"recorded (\d+) s", output)
    assert summary, output
    seconds = sorted({row.second for row in stored(warehouse)})
    assert len(seconds) == int(summary.group(1)) > 0
    assert seconds == list(range(seconds[0], seconds[0] + len(seconds)))


def _has_rows(warehouse: Warehouse) -> bool:
    with warehouse.connection() as conn:
        if conn.execute("select to_regclass('ticker.spread_observations')").fetchone() == (None,):
            return False
        row = conn.execute("select count(*) from ticker.spread_observations").fetchone()
    return bool(row and row[0] >= 20)
