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
    DEFAULT_DISPERSION_DEG,
    DEFAULT_DISPERSION_PX,
    DEFAULT_MERGE_GAP_MS,
    DEFAULT_MIN_DURATION_MS,
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
from gazescope.analytics.events.geometry import ScreenGeometry
from gazescope.analytics.events.results import Fixation
from gazescope.analytics.samples import DEFAULT_MAX_GAP_MS, segments


@register_fixation_detector(
    "idt",
    default_px=DEFAULT_DISPERSION_PX,
    default_deg=DEFAULT_DISPERSION_DEG,
    threshold_unit="px dispersion",
)
def idt(
    positions: np.ndarray,
    timestamps: np.ndarray,
    *,
    threshold_px: float | None = None,
    threshold_deg: float | None = None,
    min_duration_ms: float = DEFAULT_MIN_DURATION_MS,
    geometry: ScreenGeometry | None = None,
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
    merge_distance_px: float | None = None,
    merge_gap_ms: float = DEFAULT_MERGE_GAP_MS,
) -> list[Fixation]:
    """Fixations by dispersion threshold (I-DT, Salvucci & Goldberg 2000), in time order.

    Parameters
    ----------
    positions : (N, 2) float
        Screen points in px (x right, y down); NaN rows are invalid samples (no face, blink, off-screen).
    timestamps : (N,) float
        Sample times in ms, non-decreasing.
    threshold_px, threshold_deg : float, optional
        Dispersion threshold ``(max x - min x) + (max y - min y)``: px if given, else degrees converted with
        ``geometry`` (required then), else 2.5 deg with geometry or 100 px without. A window qualifies
        when its dispersion is ``<= threshold``.
    min_duration_ms : float
        >= 0 (default 100, Salvucci & Goldberg 2000; Blignaut 2009). Timestamps within 1e-6 ms of it count
        as reaching it.
    geometry : ScreenGeometry, optional
    max_gap_ms : float
        > 0; longer pauses between valid samples split fixations (default 200).
    merge_distance_px, merge_gap_ms : float
        Adjacent fixations closer than this (default half the dispersion threshold) and this many ms
        (default 150) are merged (Olsen 2012).

    Returns
    -------
    list of Fixation
        ``start_index``/``end_index`` are rows of ``positions``.

    Raises
    ------
    gazescope.errors.ValidationError
        Bad thresholds, shapes or timestamps.
    """
    check_min_duration(min_duration_ms)
    thr, _ = resolve_threshold(
        threshold_px, threshold_deg, geometry, DEFAULT_DISPERSION_PX, DEFAULT_DISPERSION_DEG
    )
    tr = track(positions, timestamps, max_gap_ms)
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
    merge_px = thr / 2.0 if merge_distance_px is None else merge_distance(merge_distance_px, geometry)
    return merge_adjacent(tr, out, merge_px, merge_gap_ms)


def detect_fixations_idt(
    samples: Sequence[Mapping[str, Any]],
    *,
    dispersion_px: float | None = None,
    dispersion_deg: float | None = None,
    **params: Any,
) -> list[Fixation]:
    """:func:`idt` of sample dicts (see :mod:`gazescope.analytics.samples`) with ``dispersion_px`` /
    ``dispersion_deg`` as its threshold; ``params`` (``min_duration_ms``, ``geometry``, ``max_gap_ms``,
    ``merge_distance_px``, ``merge_gap_ms``) as :func:`idt` takes them. Raises
    :class:`gazescope.errors.ValidationError` as it does."""
    return detect_fixations(
        samples, method="idt", threshold_px=dispersion_px, threshold_deg=dispersion_deg, **params
    )
