"""I-DT: fixations by dispersion threshold (Salvucci & Goldberg, "Identifying Fixations and Saccades in
Eye-Tracking Protocols", ETRA 2000).

A window covering ``min_duration_ms`` whose dispersion ``D = (max x - min x) + (max y - min y)`` is at
most the threshold is grown while D stays within it; the window is one fixation at its centroid.
Otherwise the window start moves one sample on. Default threshold 2.5 degrees, or 100 px without screen
geometry (Blignaut 2009 widened for webcam noise; see :mod:`gazescope.analytics.events`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gazescope.analytics.events._fixations import (
    EPS_MS,
    check_min_duration,
    make_fixation,
    merge_adjacent,
    merge_distance,
    resolve_threshold,
    track,
)
from gazescope.analytics.events._library import register_fixation_detector
from gazescope.analytics.events.detect import detect_fixations
from gazescope.analytics.events.params import (
    DEFAULT_DISPERSION_DEG,
    DEFAULT_DISPERSION_PX,
    DEFAULT_EVENT_PARAMS,
    EventParams,
)
from gazescope.analytics.events.results import Fixation
from gazescope.analytics.samples import segments


@register_fixation_detector(
    "idt",
    default_px=DEFAULT_DISPERSION_PX,
    default_deg=DEFAULT_DISPERSION_DEG,
    threshold_unit="px dispersion",
)
def idt(
    positions: np.ndarray, timestamps: np.ndarray, params: EventParams = DEFAULT_EVENT_PARAMS
) -> list[Fixation]:
    """Fixations by dispersion threshold (I-DT, Salvucci & Goldberg 2000), in time order.

    Args:
        positions: (N, 2) float screen points in px (x right, y down); NaN rows are invalid samples (no
            face, blink, off-screen).
        timestamps: (N,) float sample times in ms, non-decreasing.
        params: What this detector reads of :class:`EventParams`:

            * ``threshold_px``, ``threshold_deg``: dispersion threshold ``(max x - min x) + (max y - min y)``:
              px if given, else degrees converted with ``geometry`` (required then), else 2.5 deg with
              geometry or 100 px without. A window qualifies when its dispersion is ``<= threshold``.
            * ``min_duration_ms``: >= 0 (default 100, Salvucci & Goldberg 2000; Blignaut 2009). Timestamps
              within 1e-6 ms of it count as reaching it.
            * ``geometry``: optional :class:`~gazescope.analytics.events.geometry.ScreenGeometry`.
            * ``max_gap_ms``: > 0; longer pauses between valid samples split fixations (default 200).
            * ``merge_distance_px``, ``merge_gap_ms``: adjacent fixations closer than this (default half
              the dispersion threshold) and this many ms (default 150) are merged (Olsen 2012).

    Returns:
        The fixations; ``start_index``/``end_index`` are rows of ``positions``.

    Raises:
        gazescope.errors.ValidationError: Bad thresholds, shapes or timestamps.
    """
    p = params
    min_duration_ms = p.min_duration_ms
    check_min_duration(min_duration_ms)
    thr, _ = resolve_threshold(
        p.threshold_px, p.threshold_deg, p.geometry, DEFAULT_DISPERSION_PX, DEFAULT_DISPERSION_DEG
    )
    tr = track(positions, timestamps, p.max_gap_ms)
    out: list[Fixation] = []
    for seg in segments(tr.segment):
        ts, xs, ys = tr.t_ms[seg], tr.positions_px[seg, 0], tr.positions_px[seg, 1]
        n = len(seg)
        i = 0
        while i < n:
            j = int(np.searchsorted(ts, ts[i] + min_duration_ms - EPS_MS, side="left"))
            if j >= n:
                break
            wx, wy = xs[i : j + 1], ys[i : j + 1]
            xmin, xmax, ymin, ymax = wx.min(), wx.max(), wy.min(), wy.max()
            if (xmax - xmin) + (ymax - ymin) <= thr:
                while j + 1 < n:
                    nx, ny = xs[j + 1], ys[j + 1]
                    d = (max(xmax, nx) - min(xmin, nx)) + (max(ymax, ny) - min(ymin, ny))
                    if d > thr:
                        break
                    xmin, xmax, ymin, ymax = min(xmin, nx), max(xmax, nx), min(ymin, ny), max(ymax, ny)
                    j += 1
                out.append(make_fixation(tr, seg[i : j + 1]))
                i = j + 1
            else:
                i += 1
    merge_px = thr / 2.0 if p.merge_distance_px is None else merge_distance(p.merge_distance_px, p.geometry)
    return merge_adjacent(tr, out, merge_px, p.merge_gap_ms)


def detect_fixations_idt(
    samples: Sequence[Mapping[str, Any]],
    *,
    dispersion_px: float | None = None,
    dispersion_deg: float | None = None,
    **params: Any,
) -> list[Fixation]:
    """:func:`idt` of sample dicts (see :mod:`gazescope.analytics.samples`) with ``dispersion_px`` /
    ``dispersion_deg`` as its threshold; ``params`` are the other fields of :class:`EventParams`
    (``min_duration_ms``, ``geometry``, ``max_gap_ms``, ``merge_distance_px``, ``merge_gap_ms``). Raises
    :class:`gazescope.errors.ValidationError` as :func:`idt` does."""
    chosen = EventParams(threshold_px=dispersion_px, threshold_deg=dispersion_deg, **params)
    return detect_fixations(samples, method="idt", params=chosen)
