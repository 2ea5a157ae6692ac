"""Alert notifications to a Slack-compatible webhook on loopback: at least once, by key."""

import json
import logging
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import psycopg
import pytest

from bitso_platform.defs.ticker.sensors import spread_alerts
from bitso_platform.devtools.replay import Observation
from bitso_platform.resources.alerts import SpreadAlerts
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform_tests.ticker.alert_reference import (
    expected_episodes,
    expected_keys,
    notification_keys,
    series_of,
    store_observations,
)
from bitso_platform_tests.ticker.conftest import at


class Webhook:
    """A webhook that answers HTTP 500 to its first `failures` requests, then 200."""

    def __init__(self, failures: int):
        self.failures = failures
        self.requests: list[tuple[str, dict[str, object], int]] = []  # key, body, status
        self._lock = threading.Lock()
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with webhook._lock:
                    status = 500 if len(webhook.requests) < webhook.failures else 200
                    webhook.requests.append((self.headers["Idempotency-Key"], body, status))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"boom")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alerts"

    def acknowledged(self) -> Counter[str]:
        return Counter(key for key, _, status in self.requests if status == 200)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(failures=3)
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


@pytest.fixture
def spike(recorded: list[Observation]) -> list[Observation]:
    return [o for o in recorded if at("23:36:00") <= o.second < at("23:46:00")]


def tick(warehouse: Warehouse, cursor: str | None, webhook_url: str) -> dg.SensorResult:
    alerts = SpreadAlerts(webhook_url=webhook_url, retry_base_seconds=0, webhook_timeout_seconds=2)
    resources = {"warehouse": warehouse, "alerts": alerts}
    with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
        return spread_alerts(context)  # type: ignore[return-value]


def test_a_webhook_that_fails_three_times_then_recovers_gets_every_alert_once_per_key(
    warehouse: Warehouse, warehouse_url: str, webhook: Webhook, spike: list[Observation]
) -> None:
    store_observations(warehouse_url, spike)
    expected = expected_keys(expected_episodes(series_of(spike)))

    cursor = None
    for _ in range(6):  # a failing sink is retried on later ticks
        cursor = tick(warehouse, cursor, webhook.url).cursor

    assert sorted(webhook.acknowledged()) == expected
    assert set(webhook.acknowledged().values()) == {1}
    assert [status for _, _, status in webhook.requests[:3]] == [500, 500, 500]
    key, body, _ = webhook.requests[-1]
    assert key in expected and set(body) == {"text"} and "btc_mxn" in str(body["text"])
    assert notification_keys(warehouse_url, sink="webhook") == expected


def test_alert_log_lines_are_plain_text_and_only_the_webhook_gets_slack_markup(
    warehouse_url: str,
    webhook: Webhook,
    spike: list[Observation],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store_observations(warehouse_url, spike)
    markup = re.compile(r"\*\w+\*|:[a-z_]+:|<[^>]*\|")  # *bold*, :emoji:, <url|text>

    alerts = SpreadAlerts(webhook_url=webhook.url, retry_base_seconds=0)
    with caplog.at_level(logging.INFO, logger="bitso_platform.alerts"):
        for _ in range(6):  # the sensor's passes; a failing sink is retried on later ones
            alerts.evaluator(warehouse_url).run_pass()

    lines = [r.getMessage().partition(" [spread-alert:") for r in caplog.records]
    logged = [message for message, key, _ in lines if key]  # without the idempotency key
    assert logged and not [message for message in logged if markup.search(message)]
    texts = [str(body["text"]) for _, body, status in webhook.requests if status == 200]
    assert texts and all(markup.search(text) for text in texts)
    assert any(text.startswith(":rotating_light: *btc_mxn* spread ") for text in texts)


def test_a_dead_webhook_never_fails_the_tick_and_its_alerts_wait_in_the_outbox(
    warehouse: Warehouse, warehouse_url: str, spike: list[Observation]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    store_observations(warehouse_url, spike)
    expected = expected_keys(expected_episodes(series_of(spike)))

    result = tick(warehouse, None, dead)

    message = result.skip_reason.skip_message or ""  # type: ignore[union-attr]
    assert f"failed 1, pending {len(expected)}" in message
    assert notification_keys(warehouse_url, sink="webhook") == expected
    with psycopg.connect(warehouse_url) as conn:
        undelivered_logs = conn.execute(
            "select count(*) from ticker.alert_notifications"
            " where sink = 'log' and delivered_at is null"
        ).fetchone()
    assert undelivered_logs == (0,)  # the log sink got every alert regardless
