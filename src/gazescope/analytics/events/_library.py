"""The fixation-detector registry: detectors register by name with a decorator and are looked up by name
(as pymovements' ``events/detection/_library.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gazescope.analytics.events.params import EventParams
from gazescope.analytics.events.results import Fixation
from gazescope.errors import ValidationError

DetectFn = Callable[[np.ndarray, np.ndarray, EventParams], list[Fixation]]
"""``fn(positions (N, 2) px, timestamps (N,) ms, params) -> list[Fixation]``."""


@dataclass(frozen=True, slots=True)
class FixationDetector:
    """A registered fixation detector: ``detect`` (see :data:`DetectFn`), its default threshold in px
    (``default_px``, without screen geometry) and in degrees (``default_deg``, with it), and what the
    threshold measures (``threshold_unit``, e.g. "px dispersion")."""

    name: str
    detect: DetectFn
    default_px: float
    default_deg: float
    threshold_unit: str


_DETECTORS: dict[str, FixationDetector] = {}


def register_fixation_detector(
    name: str, *, default_px: float, default_deg: float, threshold_unit: str
) -> Callable[[DetectFn], DetectFn]:
    """Decorator registering a fixation detector under ``name``. Raises :class:`ValueError` when the name
    is taken."""

    def deco(fn: DetectFn) -> DetectFn:
        if name in _DETECTORS:
            raise ValueError(f"fixation detector {name!r} is already registered")
        _DETECTORS[name] = FixationDetector(name, fn, default_px, default_deg, threshold_unit)
        return fn

    return deco


def fixation_detectors() -> tuple[str, ...]:
    """Names of the registered fixation detectors, sorted."""
    return tuple(sorted(_DETECTORS))


def fixation_detector(name: str) -> FixationDetector:
    """The detector registered as ``name``. Raises :class:`gazescope.errors.ValidationError` listing the
    registered names for an unknown one."""
    try:
        return _DETECTORS[name]
    except (KeyError, TypeError):
        available = ", ".join(repr(n) for n in fixation_detectors())
        raise ValidationError(f"unknown fixation method {name!r}; available: {available}") from None


def as_positions(positions: Any, timestamps: Any) -> tuple[np.ndarray, np.ndarray]:
    """``positions`` as float (N, 2) and ``timestamps`` as float (N,). Raises
    :class:`gazescope.errors.ValidationError` for other shapes."""
    pos = np.asarray(positions, dtype=float)
    if pos.size == 0:
        pos = pos.reshape(0, 2)
    t = np.asarray(timestamps, dtype=float)
    if pos.ndim != 2 or pos.shape[1] != 2 or t.shape != (len(pos),):
        raise ValidationError(f"positions must be (N, 2) and timestamps (N,), got {pos.shape} and {t.shape}")
    return pos, t
