"""Blink events: maximal runs of samples the tracker marked ``is_blinking`` (its adaptive-EAR detector,
:mod:`gazescope.tracking.blinks`, after Soukupová & Čech 2016, decides per frame; this groups frames into
events)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gazescope.analytics.samples import BlinkArrays, blink_arrays
from gazescope.domain import BlinkEvent


def blinks(
    blinking: np.ndarray,
    timestamps: np.ndarray,
    frame_index: np.ndarray | None = None,
    ear: np.ndarray | None = None,
) -> list[BlinkEvent]:
    """Blink events as maximal runs of ``blinking`` samples.

    Args:
        blinking: (N,) bool, whether each sample is in a blink.
        timestamps: (N,) float sample times (ms).
        frame_index: Optional (N,) int frame numbers (default the positions 0..N-1).
        ear: Optional (N,) float mean eye aspect ratio per sample (NaN where not measured).

    Returns:
        One :class:`BlinkEvent` a run: ``start_ms``/``end_ms``: timestamps of the first and last blinking
        sample; ``start_frame``/``end_frame``: their frame index; ``min_ear``: the run's lowest finite
        ``ear`` (NaN if none). Empty without blinks.
    """
    b = np.asarray(blinking, dtype=bool)
    t = np.asarray(timestamps, dtype=float)
    frames = np.arange(len(b)) if frame_index is None else np.asarray(frame_index)
    e = np.full(len(b), np.nan) if ear is None else np.asarray(ear, dtype=float)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], b.astype(int), [0]])))
    out: list[BlinkEvent] = []
    for i0, i1 in zip(edges[::2], edges[1::2] - 1, strict=True):
        run = e[i0 : i1 + 1]
        run = run[np.isfinite(run)]
        out.append(
            BlinkEvent(
                start_ms=float(t[i0]),
                end_ms=float(t[i1]),
                start_frame=int(frames[i0]),
                end_frame=int(frames[i1]),
                min_ear=float(run.min()) if len(run) else math.nan,
            )
        )
    return out


def detect_blinks(samples: Sequence[Mapping[str, Any]]) -> list[BlinkEvent]:
    """:func:`blinks` of sample dicts (keys ``is_blinking``, ``t_ms``, ``frame_index``, ``ear_left``,
    ``ear_right``; the list position stands in for a missing ``frame_index``). Returns [] for no blinks."""
    return blink_events(blink_arrays(samples))


def blink_events(a: BlinkArrays) -> list[BlinkEvent]:
    """:func:`blinks` of :class:`gazescope.analytics.samples.BlinkArrays` (flags, times, frames, EAR)."""
    return blinks(a.blinking, a.t_ms, a.frame_index, a.ear)
