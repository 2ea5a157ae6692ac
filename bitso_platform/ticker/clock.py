"""The sampler's clock: feed time that advances `speed` feed seconds per wall second.

The clock is aligned to the exchange timestamps it is shown, so a replay running
ten times faster than real time, or a recording from 2024, is sampled on its own
timeline. Durations that belong to the feed (watchdog, fallback, REST budget) are
measured on `elapsed()`, a monotonic clock scaled by the same speed.
"""

import time
from collections.abc import Callable


class FeedClock:
    """Feed time in epoch seconds; unknown (None) until aligned."""

    def __init__(self, speed: float = 1.0, *, monotonic: Callable[[], float] = time.monotonic):
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._monotonic = monotonic
        self._anchor_wall: float | None = None
        self._anchor_feed = 0.0

    @property
    def aligned(self) -> bool:
        return self._anchor_wall is not None

    def now(self) -> float | None:
        """Current feed time, or None before the first exchange timestamp."""
        if self._anchor_wall is None:
            return None
        return self._anchor_feed + (self._monotonic() - self._anchor_wall) * self.speed

    def observe(self, exchange_at: float) -> None:
        """Move forward to an exchange timestamp that is ahead of us; never move back."""
        now = self.now()
        if now is None or exchange_at > now:
            self.align(exchange_at)

    def align(self, feed_time: float) -> None:
        """Declare that it is `feed_time` now."""
        self._anchor_wall = self._monotonic()
        self._anchor_feed = feed_time

    def elapsed(self) -> float:
        """Monotonic feed seconds since an arbitrary origin (for budgets and timeouts)."""
        return self._monotonic() * self.speed

    def wall(self, feed_seconds: float) -> float:
        """Wall seconds that `feed_seconds` of feed time take."""
        return feed_seconds / self.speed
