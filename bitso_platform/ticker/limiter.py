"""Client-side REST budget: never more requests than Bitso allows in any rolling minute.

Bitso counts public requests per IP in one-minute windows and locks a client out for
a minute when it exceeds 60 (repeated lockouts: 24 hours), so the budget is a hard
guarantee, not a hint: a rolling window plus an even spacing between requests, with a
one-second safety margin for network jitter. On HTTP 429 the budget locks itself for
at least the exchange's lockout, doubling on repeats, and halves its rate because the
real limit is evidently lower than we were told.
"""

from collections import deque
from collections.abc import Callable

from bitso_platform.backoff import Backoff
from bitso_platform.ticker.config import EXCHANGE_REST_LIMIT_PER_MINUTE

WINDOW_SECONDS = 60.0
SAFETY_MARGIN_SECONDS = 1.0
LOCKOUT_SECONDS = 60.0
MAX_LOCKOUT_SECONDS = 15 * 60.0


class RollingWindow:
    """The moments of the last `seconds`; a moment exactly `seconds` old has left it."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._moments: deque[float] = deque()

    def at(self, now: float) -> tuple[float, ...]:
        """The moments still in the window at `now`, oldest first."""
        while self._moments and self._moments[0] <= now - self.seconds:
            self._moments.popleft()
        return tuple(self._moments)

    def add(self, moment: float) -> None:
        self._moments.append(moment)


class RestBudget:
    """At most `per_minute` requests in any rolling minute, measured on `clock` seconds."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float]):
        if not 1 <= per_minute <= EXCHANGE_REST_LIMIT_PER_MINUTE:
            raise ValueError(
                f"a REST budget of {per_minute}/min is outside 1..60: Bitso locks out "
                "clients above 60 public requests per minute; lower the budget"
            )
        self.per_minute = per_minute
        self._clock = clock
        self._window = WINDOW_SECONDS + SAFETY_MARGIN_SECONDS
        self._sent = RollingWindow(self._window)
        self._blocked_until = float("-inf")
        self._lockout = Backoff(base=LOCKOUT_SECONDS, cap=MAX_LOCKOUT_SECONDS, jitter=0.0)
        self.lockouts = 0

    def wait_time(self) -> float:
        """Seconds until a request may be sent; 0 when one may be sent now."""
        now = self._clock()
        sent = self._sent.at(now)
        waits = [self._blocked_until - now]
        if sent:
            waits.append(sent[-1] + self._window / self.per_minute - now)
        if len(sent) >= self.per_minute:
            waits.append(sent[0] + self._window - now)
        return max(0.0, *waits)

    def try_acquire(self) -> bool:
        """Spend one request if the budget allows it now."""
        if self.wait_time() > 0:
            return False
        self._sent.add(self._clock())
        return True

    def locked_out(self, retry_after: float | None = None) -> float:
        """Record a lockout (HTTP 429); returns how long no request will be sent."""
        self.lockouts += 1
        duration = min(MAX_LOCKOUT_SECONDS, max(self._lockout.next(), retry_after or 0.0))
        self._blocked_until = max(self._blocked_until, self._clock() + duration)
        self.per_minute = max(1, self.per_minute // 2)
        return duration

    def succeeded(self) -> None:
        """A request went through: the next lockout starts the backoff afresh."""
        self._lockout.reset()
