"""The client-side REST budget, on a clock the test moves by hand."""

import pytest

from bitso_platform.ticker.limiter import RestBudget, RollingWindow


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def most_in_any_minute(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 60) for start in times)


def test_the_budget_never_allows_more_than_its_share_of_any_rolling_minute() -> None:
    clock = ManualClock()
    budget = RestBudget(30, clock=clock)
    sent = []
    for _ in range(10 * 60 * 20):  # ten minutes of attempts every 50 ms
        if budget.try_acquire():
            sent.append(clock.now)
        clock.now += 0.05

    assert most_in_any_minute(sent) <= 30
    assert len(sent) >= 10 * 29  # and it does spend it


def test_a_budget_above_bitsos_limit_of_60_per_minute_is_refused() -> None:
    with pytest.raises(ValueError, match="60"):
        RestBudget(61, clock=ManualClock())


def test_a_lockout_stops_requests_for_a_minute_doubling_on_repeats_and_halves_the_budget() -> None:
    clock = ManualClock()
    budget = RestBudget(30, clock=clock)

    assert budget.locked_out() == 60
    assert budget.per_minute == 15
    clock.now += 59.9
    assert not budget.try_acquire()
    clock.now += 0.2
    assert budget.try_acquire()
    assert budget.locked_out() == 120  # a second lockout in a row
    budget.succeeded()
    assert budget.locked_out(retry_after=90) == 90  # the exchange asked for longer


def test_a_moment_leaves_the_rolling_window_exactly_the_windows_length_later() -> None:
    window = RollingWindow(60.0)
    window.add(10.0)
    window.add(30.0)

    assert window.at(69.9) == (10.0, 30.0)
    assert window.at(70.0) == (30.0,)
    assert window.at(90.0) == ()
