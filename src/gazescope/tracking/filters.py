"""Smoothing filters for gaze signals.

One Euro filter: Casiez, Roussel & Vogel, "1 Euro Filter: A Simple Speed-based Low-pass Filter for Noisy
Input in Interactive Systems", CHI 2012. An adaptive first-order low-pass whose cutoff rises with the
signal's speed: ``fc = min_cutoff + beta * |dx/dt|``, so slow drifts are smoothed hard (less jitter) and
fast moves (saccades) pass with little lag. Time is given explicitly (seconds), so irregular frame
intervals and dropped frames are handled.
"""

from __future__ import annotations

import math

from gazescope.config import SmoothingSettings


def _alpha(cutoff_hz: float, dt_s: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """One Euro filter of one scalar signal.

    Args:
        min_cutoff: minimum cutoff frequency in Hz, > 0 (lower = smoother at rest).
        beta: speed coefficient in 1/(signal unit), >= 0 (higher = less lag when moving).
        d_cutoff: cutoff in Hz of the derivative's own low-pass, > 0.

    The tracker's values are :class:`~gazescope.config.SmoothingSettings` (see :class:`OneEuroFilters`).

    Raises:
        ValueError: a cutoff <= 0 or a negative beta.
    """

    __slots__ = ("_dx", "_t", "_x", "beta", "d_cutoff", "min_cutoff")

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float) -> None:
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


class OneEuroFilters:
    """One Euro filters of ``n`` signals sharing a unit (gaze ratios, angles, screen pixels).

    Args:
        n: number of signals.
        settings: ``one_euro_min_cutoff``, ``one_euro_beta`` and ``one_euro_d_cutoff``
            (:class:`~gazescope.config.SmoothingSettings`); a ``Settings`` is one.
        scale: the signals' full-scale value in their unit (1 for 0..1 ratios, the screen width in pixels):
            ``one_euro_beta`` is per full scale, so each filter's beta is ``one_euro_beta / scale``.
    """

    def __init__(self, n: int, settings: SmoothingSettings, *, scale: float = 1.0) -> None:
        s = settings
        self.f = [
            OneEuroFilter(s.one_euro_min_cutoff, s.one_euro_beta / scale, s.one_euro_d_cutoff)
            for _ in range(n)
        ]

    def __call__(self, values: tuple[float, ...], t_s: float) -> tuple[float, ...]:
        """Filter one value of each signal at time ``t_s`` (seconds, increasing)."""
        return tuple(f(v, t_s) for f, v in zip(self.f, values, strict=True))

    def last(self) -> tuple[float | None, ...]:
        """The last filtered value of each signal (None before the first)."""
        return tuple(f.value for f in self.f)

    def reset(self) -> None:
        """Forget the state of every signal."""
        for f in self.f:
            f.reset()


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
