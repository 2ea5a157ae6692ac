"""Alert notifications: the sinks, and delivery of the outbox `ticker.alert_notifications`.

Delivery is at least once. The evaluator queues one row per alert event and sink in the
transaction that records the alert; after the commit, `deliver_due` sends every due row, one
row per short transaction: the row is locked (`for update skip locked`, so two evaluators
never send it at the same time), sent, and marked delivered. A crash between the send and the
commit sends it again later with the same idempotency key, which the receiver can use to drop
the repeat. A failure is recorded and retried with exponential backoff on later passes until
the sink acknowledges; a sink that fails is skipped for the rest of the pass, so a dead
webhook costs one timeout per pass and never stops evaluation (nor the sampler, which is
another process).

A webhook URL is a credential: it appears nowhere we print or store (`last_error`, logs) but
as `https://host/***`.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx
import psycopg

from bitso_platform.backoff import ExponentialBackoff
from bitso_platform.redaction import hide_from_http_logs, redact_url, scrub
from bitso_platform.sql import load_sql

log = logging.getLogger("bitso_platform.alerts")

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Notification:
    """One queued notification, as a sink receives it."""

    notification_id: int
    event: str
    sink: str
    idempotency_key: str
    message: str
    attempts: int


class Sink(Protocol):
    """Somewhere alerts go. `send` returns once the sink has acknowledged, or raises."""

    name: str
    slack: bool  # its messages carry Slack's markup; otherwise plain text

    def send(self, notification: Notification) -> None: ...


class LogSink:
    """Alerts as log lines (always on): WARNING when an episode opens, INFO when it resolves."""

    name = "log"
    slack = False  # log lines are plain text

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter | None = None):
        self.logger = logger or log

    def send(self, notification: Notification) -> None:
        level = logging.WARNING if notification.event == "opened" else logging.INFO
        self.logger.log(level, "%s [%s]", notification.message, notification.idempotency_key)


class WebhookError(Exception):
    """A webhook did not acknowledge; the message names the URL redacted."""


class WebhookSink:
    """A Slack-compatible incoming webhook: POST `{"text": ...}` with an idempotency key."""

    name = "webhook"
    slack = True

    def __init__(self, url: str, *, timeout: float = 5.0):
        self.url = url
        self.timeout = timeout
        hide_from_http_logs(url)

    def __repr__(self) -> str:
        return f"WebhookSink({redact_url(self.url)!r})"

    def send(self, notification: Notification) -> None:
        try:
            response = httpx.post(
                self.url,
                json={"text": notification.message},
                headers={IDEMPOTENCY_HEADER: notification.idempotency_key},
                timeout=self.timeout,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            # httpx's messages quote the URL; `from None` keeps the original out of tracebacks.
            detail = scrub(f"{type(exc).__name__}: {exc}".splitlines()[0], self.url)
            raise WebhookError(f"{detail} ({redact_url(self.url)})") from None


# The delay before a failed notification's next attempt; attempts are counted in Postgres.
DEFAULT_RETRY = ExponentialBackoff(base=5.0, cap=300.0)


@dataclass
class DeliveryReport:
    """What one delivery round did."""

    delivered: int = 0
    failed: int = 0
    pending: int = 0  # still undelivered after the round (due later or skipped)
    failing_sinks: list[str] = field(default_factory=list)
    error: str | None = None  # the database failed during delivery; retried next pass


def deliver_due(
    conn: psycopg.Connection,
    sinks: Sequence[Sink],
    *,
    retry: ExponentialBackoff = DEFAULT_RETRY,
    budget_seconds: float = 20.0,
    batch: int = 500,
) -> DeliveryReport:
    """Send every due notification to its sink; record acknowledgements and failures.

    `conn` must be in autocommit mode: each notification is its own transaction. Stops
    after `budget_seconds` so a slow sink cannot stall the sensor tick.
    """
    report = DeliveryReport()
    by_name = {sink.name: sink for sink in sinks}
    deadline = time.monotonic() + budget_seconds
    try:
        for notification_id in _due(conn, list(by_name), batch):
            if time.monotonic() > deadline:
                break
            _deliver_one(conn, notification_id, by_name, retry, report)
        report.pending = _pending(conn, list(by_name))
    except psycopg.Error as exc:
        report.error = f"{type(exc).__name__}: {str(exc).strip()}"
        log.warning(
            "alert delivery stopped: %s; undelivered notifications stay queued and are "
            "retried on the next evaluation",
            report.error,
        )
    return report


def _due(conn: psycopg.Connection, sinks: list[str], batch: int) -> list[int]:
    rows = conn.execute(
        load_sql("ticker/due_alert_notifications"), {"sinks": sinks, "limit": batch}
    )
    return [notification_id for (notification_id,) in rows.fetchall()]


def _deliver_one(
    conn: psycopg.Connection,
    notification_id: int,
    sinks: dict[str, Sink],
    retry: ExponentialBackoff,
    report: DeliveryReport,
) -> None:
    with conn.transaction():
        row = conn.execute(load_sql("ticker/lock_alert_notification"), [notification_id]).fetchone()
        if row is None:
            return  # delivered meanwhile, or being delivered by another evaluator
        notification = Notification(*row)
        if notification.sink in report.failing_sinks:
            return  # the sink failed earlier in this round; try again next pass
        try:
            sinks[notification.sink].send(notification)
        except Exception as exc:  # any sink failure is recorded, never raised
            _failed(conn, notification, exc, retry, report)
            return
        conn.execute(
            "update ticker.alert_notifications"
            " set delivered_at = clock_timestamp(), attempts = attempts + 1, last_error = null"
            " where notification_id = %s",
            [notification_id],
        )
        report.delivered += 1


def _failed(
    conn: psycopg.Connection,
    notification: Notification,
    exc: Exception,
    retry: ExponentialBackoff,
    report: DeliveryReport,
) -> None:
    attempts = notification.attempts + 1
    delay = retry.delay(attempts)
    error = f"{type(exc).__name__}: {exc}"[:500]
    conn.execute(
        "update ticker.alert_notifications"
        " set attempts = %s, last_error = %s,"
        " next_attempt_at = clock_timestamp() + make_interval(secs => %s)"
        " where notification_id = %s",
        [attempts, error, delay, notification.notification_id],
    )
    report.failed += 1
    report.failing_sinks.append(notification.sink)
    log.warning(
        "alert sink %s failed (attempt %d for %s): %s; retrying in %.0f s. Check the sink "
        "(BITSO_ALERT_WEBHOOK_URL); the alert is kept until the sink acknowledges it",
        notification.sink,
        attempts,
        notification.idempotency_key,
        error,
        delay,
    )


def _pending(conn: psycopg.Connection, sinks: list[str]) -> int:
    row = conn.execute(
        "select count(*) from ticker.alert_notifications"
        " where delivered_at is null and sink = any(%s)",
        [sinks],
    ).fetchone()
    return int(row[0]) if row else 0
