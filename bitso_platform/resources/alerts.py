"""Spread alert settings: thresholds, quiet period and sinks (SPEC 6 and 7)."""

import logging

import dagster as dg
from pydantic import Field

from bitso_platform.backoff import ExponentialBackoff
from bitso_platform.settings import DEFAULT_QUIET_SECONDS, DEFAULT_SPREAD_THRESHOLDS
from bitso_platform.ticker.alert_evaluator import AlertEvaluator
from bitso_platform.ticker.alerts import AlertRules, Thresholds
from bitso_platform.ticker.notify import DEFAULT_RETRY, LogSink, Sink, WebhookSink


class SpreadAlerts(dg.ConfigurableResource):
    """When spreads raise alerts and where the notifications go.

    `thresholds` syntax: a default list of percents, then optional per-book lists, separated
    by `;` (e.g. `0.1,0.5,1.0;btc_mxn=0.2,2`: btc_mxn alerts at 0.2 % and 2 %, every other
    book at 0.1, 0.5 and 1.0 %).
    """

    thresholds: str = Field(
        default=DEFAULT_SPREAD_THRESHOLDS,
        description="Percent thresholds (BITSO_SPREAD_THRESHOLDS)",
    )
    quiet_seconds: int = Field(
        default=DEFAULT_QUIET_SECONDS,
        ge=0,
        description="Seconds at or below a threshold before its episode resolves "
        "(BITSO_ALERT_QUIET_SECONDS)",
    )
    webhook_url: str = Field(
        default="", description="Slack-compatible webhook (BITSO_ALERT_WEBHOOK_URL); empty = none"
    )
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, description="Per request")
    retry_base_seconds: float = Field(
        default=DEFAULT_RETRY.base,
        ge=0,
        description="First retry delay of a failed notification; doubles",
    )
    retry_cap_seconds: float = Field(
        default=DEFAULT_RETRY.cap, ge=0, description="Longest retry delay"
    )

    def rules(self) -> AlertRules:
        """The parsed rules; raises ValueError naming the bad setting."""
        return AlertRules(Thresholds.parse(self.thresholds), self.quiet_seconds)

    def sinks(self, logger: logging.Logger | logging.LoggerAdapter | None = None) -> list[Sink]:
        """The log always; the webhook when a URL is configured."""
        sinks: list[Sink] = [LogSink(logger)]
        if self.webhook_url.strip():
            sinks.append(
                WebhookSink(self.webhook_url.strip(), timeout=self.webhook_timeout_seconds)
            )
        return sinks

    def evaluator(
        self, warehouse_url: str, logger: logging.Logger | logging.LoggerAdapter | None = None
    ) -> AlertEvaluator:
        """The evaluator the sensor and `bitso ticker evaluate` both run."""
        return AlertEvaluator(
            warehouse_url,
            self.rules(),
            self.sinks(logger),
            retry=ExponentialBackoff(self.retry_base_seconds, self.retry_cap_seconds),
        )
