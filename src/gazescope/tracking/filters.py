"""Smoothing filters for gaze signals.

One Euro filter: Casiez, Roussel & Vogel, "1 Euro Filter: A Simple Speed-based Low-pass Filter for Noisy
Input in Interactive Systems", CHI 2012. An adaptive first-order low-pass whose cutoff rises with the
signal's speed: ``fc = min_cutoff + beta * |dx/dt|``, so slow drifts are smoothed hard (less jitter) and
fast moves (saccades) pass with little lag. Time is given explicitly (seconds), so irregular frame
intervals and dropped frames are handled.
"""

from __future__ import annotations

import math


def _alpha(cutoff_hz: float, dt_s: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """One Euro filter of one scalar signal.

    Args:
        min_cutoff: minimum cutoff frequency in Hz (lower = smoother at rest).
        beta: speed coefficient (higher = less lag when moving).
        d_cutoff: cutoff in Hz of the derivative's own low-pass.
    """

    __slots__ = ("_dx", "_t", "_x", "beta", "d_cutoff", "min_cutoff")

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("min_cutoff and d_cutoff must be > 0 and beta >= 0")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: float | None = None
        self._dx = 0.0
        self._t = 0.0

    def reset(self) -> None:
        """Forget the state: the next value passes through unfiltered."""
        self._x = None
        self._dx = 0.0

    @property
    def value(self) -> float | None:
        """The last filtered value, or None before the first."""
        return self._x

    def __call__(self, x: float, t_s: float) -> float:
        """Filter ``x`` observed at time ``t_s`` (seconds, increasing); returns the filtered value."""
        if self._x is None:
            self._x, self._t, self._dx = x, t_s, 0.0
            return x
        dt = t_s - self._t
        if dt <= 0:
            dt = 1e-3
        self._t = t_s
        dx = (x - self._x) / dt
        self._dx += _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * abs(self._dx)
        self._x += _alpha(cutoff, dt) * (x - self._x)
        return self._x


class Ema:
    """Exponential moving average with a time constant in seconds (irregular sampling handled)."""

    __slots__ = ("_t", "_x", "tau_s")

    def __init__(self, tau_s: float) -> None:
        if tau_s <= 0:
            raise ValueError("tau_s must be > 0")
        self.tau_s = tau_s
        self._x: float | None = None
        self._t = 0.0

    @property
    def value(self) -> float | None:
        return self._x

    def __call__(self, x: float, t_s: float) -> float:
        if self._x is None:
            self._x, self._t = x, t_s
            return x
        dt = max(t_s - self._t, 0.0)
        self._t = t_s
        a = 1.0 - math.exp(-dt / self.tau_s)
        self._x += a * (x - self._x)
        return self._x
