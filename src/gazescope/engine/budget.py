"""Each connection's share of decoding time (``Settings.frame_decode_budget_ms``)."""

from __future__ import annotations

import time


class DecodeBudget:
    """A token bucket of decode milliseconds, refilled at ``budget_ms`` per second and holding at most one
    second's worth: a connection over it waits before its next frame while other connections go on.

    Args:
        budget_ms: decoding milliseconds allowed per second (> 0).
    """

    def __init__(self, budget_ms: float) -> None:
        self._budget = float(budget_ms)
        self._tokens = self._budget
        self._t = time.monotonic()
        #: Decoding milliseconds charged so far.
        self.total_ms = 0.0

    def wait_s(self) -> float:
        """Seconds (>= 0) until the connection is back within its budget."""
        budget = self._budget
        now = time.monotonic()
        self._tokens = min(budget, self._tokens + (now - self._t) * budget)
        self._t = now
        return 0.0 if self._tokens >= 0 else -self._tokens / budget

    def charge(self, ms: float) -> None:
        """Count ``ms`` milliseconds of decoding."""
        self.wait_s()  # refill up to now first
        self._tokens -= ms
        self.total_ms += ms
