"""The one retry policy: exponential backoff, capped, optionally with jitter.

Every wait after a failure follows it: WebSocket reconnects and observation writes
(`Backoff`, counting failures in process), alert notifications (the delay before a
notification's n-th attempt, whose count is kept in Postgres) and REST lockouts.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ExponentialBackoff:
    """`base * 2^(attempt-1)` seconds, at most `cap`; `jitter` is the random share of it."""

    base: float
    cap: float
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter is a share of the delay, 0..1; got {self.jitter}")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait after the `attempt`-th failure in a row (1 for the first)."""
        ceiling = min(self.cap, self.base * 2 ** max(attempt - 1, 0))
        if not self.jitter:
            return ceiling
        # Jitter spreads the retries of many clients that failed at the same moment.
        return ceiling * (1 - self.jitter + self.jitter * (rng or random).random())


class Backoff:
    """Failures in a row under one policy (half fixed, half random by default)."""

    def __init__(
        self,
        *,
        base: float = 0.2,
        cap: float = 30.0,
        jitter: float = 0.5,
        rng: random.Random | None = None,
    ):
        self.policy = ExponentialBackoff(base, cap, jitter)
        self.attempt = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        """Record a failure; the seconds to wait before trying again."""
        self.attempt += 1
        return self.policy.delay(self.attempt, self._rng)

    def reset(self) -> None:
        """A success: the next failure starts from `base` again."""
        self.attempt = 0

    def delays(self) -> Iterator[float]:
        """Endless delays, for websockets' reconnect iterator (`reconnect_delays`)."""
        while True:
            yield self.next()
