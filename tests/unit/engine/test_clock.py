"""SessionClock: t_ms since the session was created, following the client's clock within CLOCK_SLACK_MS,
strictly increasing (also across a reconnect)."""

from __future__ import annotations

import time

import pytest

from gazescope.engine.clock import CLOCK_SLACK_MS, SessionClock


def _created_ms_ago(ms: float) -> float:
    return time.time() * 1000.0 - ms


def test_without_client_time_the_server_receive_time_is_used():
    clock = SessionClock(_created_ms_ago(5000.0))
    a, b = clock.stamp(None), clock.stamp(None)
    assert 5000.0 <= a.t_ms < 6000.0
    assert b.t_ms > a.t_ms
    assert abs(a.epoch_ms - time.time() * 1000.0) < 1000.0


def test_intervals_follow_the_client_clock():
    clock = SessionClock(_created_ms_ago(1000.0))
    first = clock.stamp(50_000.0)
    second = clock.stamp(50_040.0)  # 40 ms later by the client's camera
    assert second.t_ms - first.t_ms == pytest.approx(40.0, abs=0.01)


@pytest.mark.parametrize(
    "client_next",
    [
        pytest.param(49_000.0, id="backwards"),
        pytest.param(50_000.0 + 10 * CLOCK_SLACK_MS, id="drifted"),
    ],
)
def test_a_client_clock_that_goes_backwards_or_drifts_is_reanchored_to_the_server(client_next):
    clock = SessionClock(_created_ms_ago(1000.0))
    first = clock.stamp(50_000.0)
    second = clock.stamp(client_next)
    server_now = time.time() * 1000.0 - clock.created_at_ms
    assert second.t_ms > first.t_ms
    assert abs(second.t_ms - server_now) < 500.0


def test_t_ms_strictly_increases_after_the_last_stored_sample():
    clock = SessionClock(_created_ms_ago(0.0), last_t_ms=1e9)  # a reconnect after a sample far ahead
    stamps = [clock.stamp(None).t_ms for _ in range(3)]
    assert stamps[0] > 1e9
    assert stamps == sorted(set(stamps))
    assert all(round(t, 3) == t for t in stamps)
