"""I-VT: fixations by velocity threshold (Salvucci & Goldberg, "Identifying Fixations and Saccades in
Eye-Tracking Protocols", ETRA 2000).

Point-to-point velocities between consecutive samples; consecutive samples joined by a velocity under the
threshold form one fixation group (a sample whose neighbouring velocities are all over the threshold is a
saccade sample). Groups are merged (Olsen 2012), then groups shorter than ``min_duration_ms`` are dropped.
Default threshold 50 deg/s, or 2000 px/s without screen geometry (the Tobii I-VT default of 30 deg/s,
Olsen 2012, raised for webcam noise; see :mod:`gazescope.analytics.events`).
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
    velocities_px_s,
)
from gazescope.analytics.events._library import register_fixation_detector
from gazescope.analytics.events.detect import detect_fixations
from gazescope.analytics.events.params import (
    DEFAULT_EVENT_PARAMS,
    DEFAULT_VELOCITY_DEG_S,
    DEFAULT_VELOCITY_PX_S,
    EventParams,
)
from gazescope.analytics.events.results import Fixation
from gazescope.analytics.samples import segments


@register_fixation_detector(
    "ivt",
    default_px=DEFAULT_VELOCITY_PX_S,
    default_deg=DEFAULT_VELOCITY_DEG_S,
    threshold_unit="px/s velocity",
)
def ivt(
    positions: np.ndarray, timestamps: np.ndarray, params: EventParams = DEFAULT_EVENT_PARAMS
) -> list[Fixation]:
    """Fixations by velocity threshold (I-VT, Salvucci & Goldberg 2000), in time order.

    Args:
        positions: (N, 2) float screen points in px; NaN rows are invalid samples.
        timestamps: (N,) float sample times in ms, non-decreasing.
        params: What this detector reads of :class:`EventParams`:

            * ``threshold_px``, ``threshold_deg``: velocity threshold: px/s if given, else deg/s with
              ``geometry`` (required then), else 50 deg/s with geometry or 2000 px/s without. An interval
              ``>= threshold`` ends a group.
            * ``min_duration_ms``: >= 0 (default 100); shorter groups are dropped after merging (Olsen
              2012's order).
            * ``geometry``: optional :class:`~gazescope.analytics.events.geometry.ScreenGeometry`.
            * ``max_gap_ms``: > 0; a longer pause between valid samples ends a group (default 200).
            * ``merge_distance_px``, ``merge_gap_ms``: merging of adjacent groups (default half the default
              I-DT threshold, 150 ms; Olsen 2012).

    Returns:
        The fixations; ``start_index``/``end_index`` are rows of ``positions``.

    Raises:
        gazescope.errors.ValidationError: Bad thresholds, shapes or timestamps.
    """
    p = params
    check_min_duration(p.min_duration_ms)
    thr, _ = resolve_threshold(
        p.threshold_px, p.threshold_deg, p.geometry, DEFAULT_VELOCITY_PX_S, DEFAULT_VELOCITY_DEG_S
    )
    tr = track(positions, timestamps, p.max_gap_ms)
    out: list[Fixation] = []
    for seg in segments(tr.segment):
        if len(seg) == 1:
            groups = [seg]
        else:
            slow = velocities_px_s(tr, seg) < thr
            # break the segment at every fast interval
            groups = np.split(seg, np.flatnonzero(~slow) + 1)
        out += [make_fixation(tr, g) for g in groups if len(g)]
    out = merge_adjacent(tr, out, merge_distance(p.merge_distance_px, p.geometry), p.merge_gap_ms)
    return [f for f in out if f.duration_ms >= p.min_duration_ms - EPS_MS]


def detect_fixations_ivt(
    samples: Sequence[Mapping[str, Any]],
    *,
    velocity_px_s: float | None = None,
    velocity_deg_s: float | None = None,
    **params: Any,
) -> list[Fixation]:
    """:func:`ivt` of sample dicts (see :mod:`gazescope.analytics.samples`) with ``velocity_px_s`` /
    ``velocity_deg_s`` as its threshold; ``params`` are the other fields of :class:`EventParams`
    (``min_duration_ms``, ``geometry``, ``max_gap_ms``, ``merge_distance_px``, ``merge_gap_ms``). Raises
    :class:`gazescope.errors.ValidationError` as :func:`ivt` does."""
    chosen = EventParams(threshold_px=velocity_px_s, threshold_deg=velocity_deg_s, **params)
    return detect_fixations(samples, method="ivt", params=chosen)
