"""The one retry policy, and the three places that wait after a failure all following it."""

import ast
import random
from pathlib import Path

import pytest

import bitso_platform
from bitso_platform.backoff import Backoff, ExponentialBackoff
from bitso_platform.resources.alerts import SpreadAlerts
from bitso_platform.ticker.limiter import RestBudget
from bitso_platform.ticker.notify import DEFAULT_RETRY

PACKAGE = Path(bitso_platform.__file__).parent


def test_a_delay_doubles_with_each_failure_in_a_row_up_to_the_cap() -> None:
    policy = ExponentialBackoff(base=5.0, cap=30.0)

    assert [policy.delay(attempt) for attempt in range(1, 6)] == [5, 10, 20, 30, 30]


def test_jitter_draws_each_delay_between_its_fixed_share_and_the_full_delay() -> None:
    policy = ExponentialBackoff(base=8.0, cap=100.0, jitter=0.5)
    rng = random.Random(7)

    delays = [policy.delay(2, rng) for _ in range(200)]

    assert all(8.0 <= delay <= 16.0 for delay in delays)
    assert len(set(delays)) > 100  # drawn, not fixed


def test_a_jitter_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="jitter"):
        ExponentialBackoff(base=1.0, cap=2.0, jitter=1.5)


def test_a_success_starts_the_backoff_from_the_base_again() -> None:
    backoff = Backoff(base=1.0, cap=10.0, jitter=0.0)

    assert [backoff.next() for _ in range(3)] == [1, 2, 4]
    backoff.reset()
    assert backoff.next() == 1


def test_the_rest_lockout_backs_off_by_the_shared_policy() -> None:
    budget = RestBudget(30, clock=lambda: 0.0)
    policy = ExponentialBackoff(base=60.0, cap=900.0)

    assert [budget.locked_out() for _ in range(6)] == [policy.delay(n) for n in range(1, 7)]


def test_the_alert_resource_retries_notifications_by_the_notifiers_default_policy() -> None:
    assert SpreadAlerts().evaluator("postgresql://unused").retry == DEFAULT_RETRY


def test_no_module_but_the_policy_computes_an_exponential_delay() -> None:
    exponentials = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Pow)
        and isinstance(node.left, ast.Constant)
        and node.left.value == 2
        and not isinstance(node.right, ast.Constant)
    }

    assert exponentials == {"backoff.py"}
