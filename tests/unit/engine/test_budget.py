"""DecodeBudget: decode milliseconds per second, a connection over it waits."""

from __future__ import annotations

import time

import pytest

from gazescope.engine.budget import DecodeBudget


def test_within_the_budget_nothing_waits_and_spending_is_summed():
    budget = DecodeBudget(100.0)
    budget.charge(40.0)
    budget.charge(50.0)
    assert budget.wait_s() == 0.0
    assert budget.total_ms == 90.0


@pytest.mark.parametrize(
    ("spent_ms", "wait_s"),
    [pytest.param(150.0, 0.5, id="half-a-second-over"), pytest.param(300.0, 2.0, id="two-seconds-over")],
)
def test_over_the_budget_the_wait_is_the_time_to_refill(spent_ms, wait_s):
    budget = DecodeBudget(100.0)
    budget.charge(spent_ms)
    assert budget.wait_s() == pytest.approx(wait_s, abs=0.05)


def test_the_bucket_refills_with_time_and_holds_at_most_one_second():
    budget = DecodeBudget(100.0)
    budget.charge(105.0)
    assert budget.wait_s() > 0
    time.sleep(0.1)  # 10 ms refilled
    assert budget.wait_s() == 0.0
    fresh = DecodeBudget(100.0)
    time.sleep(0.2)  # would be 120 ms; the bucket holds 100
    fresh.charge(110.0)
    assert fresh.wait_s() == pytest.approx(0.1, abs=0.03)
