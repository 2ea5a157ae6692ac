"""A failing webhook never puts its URL (the credential) in a log, a tick or a table."""

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from bitso_platform.cli import main
from bitso_platform.defs.ticker.sensors import spread_alerts
from bitso_platform.devtools.replay import Observation
from bitso_platform.resources.alerts import SpreadAlerts
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform_tests.ticker.alert_reference import store_observations
from bitso_platform_tests.ticker.conftest import at

SECRET = "xoxb-Hush-9f8e7d6c5b4a"
PATH = f"/services/T0SECRET/B0SECRET/{SECRET}"
ROWS = sql.SQL("select t::text from {} as t")


@contextmanager
def serving(handle: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """A loopback webhook whose POST handler is `handle`; yields its secret-bearing URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            handle(self)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PATH}"
    finally:
        server.shutdown()
        server.server_close()


def answer_500(request: BaseHTTPRequestHandler) -> None:
    request.send_response(500)
    request.end_headers()


def never_answer(request: BaseHTTPRequestHandler) -> None:
    time.sleep(3)  # past the sink's timeout


@contextmanager
def refusing() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"http://127.0.0.1:{port}{PATH}"


FAILURES = {
    "connection refused": refusing,
    "HTTP 500": lambda: serving(answer_500),
    "timeout": lambda: serving(never_answer),
}


@pytest.fixture
def spike(warehouse_url: str, recorded: list[Observation]) -> None:
    store_observations(
        warehouse_url, [o for o in recorded if at("23:36:00") <= o.second < at("23:46:00")]
    )


def stored_text(warehouse_url: str) -> str:
    """Every row of every ticker table, as text."""
    with psycopg.connect(warehouse_url) as conn:
        tables = conn.execute(
            "select table_name from information_schema.tables where table_schema = 'ticker'"
        ).fetchall()
        return "\n".join(
            str(conn.execute(ROWS.format(sql.Identifier("ticker", name))).fetchall())
            for (name,) in tables
        )


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_failing_webhook_leaves_its_secret_out_of_logs_ticks_and_tables(
    failure: str,
    warehouse: Warehouse,
    warehouse_url: str,
    spike: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with FAILURES[failure]() as url:
        alerts = SpreadAlerts(webhook_url=url, webhook_timeout_seconds=0.5)
        resources = {"warehouse": warehouse, "alerts": alerts}
        with dg.build_sensor_context(resources=resources) as context:
            result = spread_alerts(context)

    tick = str(result.skip_reason)  # type: ignore[union-attr]
    assert "failed 1" in tick
    stored = stored_text(warehouse_url)
    for text in (caplog.text, tick, stored):
        assert SECRET not in text and "T0SECRET" not in text
    assert "127.0.0.1" in stored and "/***" in stored, "last_error still says where and why"


def test_bitso_ticker_evaluate_prints_no_webhook_secret(
    warehouse_url: str, spike: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with serving(answer_500) as url:
        result = CliRunner().invoke(
            main,
            ["ticker", "evaluate"],
            env={"BITSO_WAREHOUSE_URL": warehouse_url, "BITSO_ALERT_WEBHOOK_URL": url},
        )

    assert result.exit_code == 0, result.output
    assert "failed 1" in result.output
    assert SECRET not in result.output + caplog.text
