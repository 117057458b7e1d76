"""Gaze over a video stimulus: fixations on the video's time line, time windows, window heatmaps, and
AOIs limited to a time range.

Input: samples stamped with ``stimulus_id`` and ``video_t_s`` (seconds into the video) while the video
played, their screen points in the viewer's screen pixels. The video fills the screen (stretched like an
image stimulus), so points are scaled into video pixels (:func:`gazescope.analytics.aoi.screen_to_stimulus`).

Fixations are detected on the samples' own clock (``t_ms``: real time, so durations are real; I-DT or
I-VT of :mod:`gazescope.analytics.events`) and placed on the video's time line by the ``video_t_s`` of
their first and last sample. A time window ``[t0, t1)`` (video seconds) holds the part of each fixation
that overlaps it; its duration weighs the fixation in a window heatmap. The heatmap of the moment ``t_s``
with width ``window_s`` is the window centred on it, ``[t_s - window_s / 2, t_s + window_s / 2)``, drawn
like an image heatmap (Wooding 2002: each viewer's map normalised, then averaged).

AOIs (:class:`gazescope.analytics.aoi.AOI`) with ``start_s``/``end_s`` exist only in that range: their
dwell time counts the fixation time inside the range, and time to first fixation (TTFF) counts from the
range's start (the AOI's appearance; Holmqvist et al. 2011, ch. 6, AOI measures on dynamic stimuli).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from gazescope.analytics.aoi import (
    AOI,
    NO_GAZE_REASON,
    AOIMetrics,
    aggregate_aoi_metrics,
    aoi_metrics,
    parse_aois,
)
from gazescope.analytics.events import (
    Fixation,
    FixationMethod,
    detect_fixations,
)
from gazescope.analytics.heatmap import HeatmapGrid, aggregate_heatmap, heatmap_sigma_px
from gazescope.analytics.samples import is_finite_number, scale_screen_points
from gazescope.errors import ValidationError

Source = Literal["fixations", "samples"]


@dataclass(frozen=True, slots=True)
class VideoFixation:
    """A fixation placed on the video: centroid in video px, ``start_s``/``end_s`` on the video's time
    line (seconds), ``duration_ms`` of real time."""

    x_px: float
    y_px: float
    start_s: float
    end_s: float
    duration_ms: float


@dataclass(frozen=True, eq=False)
class VideoViewer:
    """One session's gaze on one video.

    ``samples``: the session's samples on the video in time order, ``screen_x_px``/``screen_y_px`` scaled
    into video px and ``video_t_s`` kept; ``video_t_s``: (N,) their video times; ``fixations`` on the video;
    ``sigma_px``: heatmap kernel in video px (from the calibration accuracy).
    """

    session_id: str
    samples: list[dict[str, Any]]
    video_t_s: np.ndarray
    fixations: tuple[VideoFixation, ...]
    sigma_px: float

    @property
    def has_gaze(self) -> bool:
        return any(
            is_finite_number(s.get("screen_x_px")) and is_finite_number(s.get("screen_y_px"))
            for s in self.samples
        )


def viewer_gaze(
    session_id: str,
    samples: Sequence[Mapping[str, Any]],
    stimulus_id: str,
    *,
    screen_size_px: tuple[float, float],
    video_size_px: tuple[float, float],
    calibration_accuracy_px: float | None = None,
    method: FixationMethod = "idt",
) -> VideoViewer:
    """The gaze of one session on the video ``stimulus_id`` (samples of other stimuli are left out).

    ``screen_size_px``: the viewer's screen (width, height); ``video_size_px``: the video's frame size.
    Raises :class:`gazescope.errors.ValidationError` for non-positive sizes.
    """
    if min(*screen_size_px, *video_size_px) <= 0:
        raise ValidationError(f"sizes must be positive, got {screen_size_px}, {video_size_px}")
    sx, sy = video_size_px[0] / screen_size_px[0], video_size_px[1] / screen_size_px[1]
    mine = scale_screen_points(
        (s for s in samples if s.get("stimulus_id") == stimulus_id and is_finite_number(s.get("video_t_s"))),
        sx,
        sy,
    )
    vt = np.array([float(s["video_t_s"]) for s in mine])
    fixations = tuple(
        VideoFixation(
            f.x_px,
            f.y_px,
            float(vt[f.start_index]),
            max(float(vt[f.end_index]), float(vt[f.start_index])),
            f.duration_ms,
        )
        for f in detect_fixations(mine, method=method)
    )
    sigma = heatmap_sigma_px(calibration_accuracy_px) * 0.5 * (sx + sy)
    return VideoViewer(session_id, mine, vt, fixations, sigma)


def fixations_in_window(viewer: VideoViewer, t0_s: float, t1_s: float) -> list[Fixation]:
    """The parts of the viewer's fixations inside ``[t0_s, t1_s)`` as :class:`Fixation` on the video clock
    (``start_ms``/``end_ms`` video milliseconds, ``duration_ms`` the overlap). A fixation on one frame only
    (``start_s == end_s``) counts when that moment is in the window, with its real duration.
    Raises ValidationError when ``t1_s <= t0_s``."""
    if not t1_s > t0_s:
        raise ValidationError(f"a time window needs t1_s > t0_s, got {t0_s}, {t1_s}")
    out = []
    for k, f in enumerate(viewer.fixations):
        a, b = max(f.start_s, t0_s), min(f.end_s, t1_s)
        if f.end_s > f.start_s:
            if b <= a:
                continue
            dur = (b - a) * 1000.0
        else:
            if not t0_s <= f.start_s < t1_s:
                continue
            a, b, dur = f.start_s, f.start_s, f.duration_ms
        out.append(Fixation(a * 1000.0, b * 1000.0, dur, f.x_px, f.y_px, 1, 0.0, k, k))
    return out


def samples_in_window(viewer: VideoViewer, t0_s: float, t1_s: float) -> list[dict[str, Any]]:
    """The viewer's samples with ``t0_s <= video_t_s < t1_s``, their ``t_ms`` set to video milliseconds
    (sorted, so sample durations follow the video clock)."""
    keep = np.flatnonzero((viewer.video_t_s >= t0_s) & (viewer.video_t_s < t1_s))
    rows = [{**viewer.samples[i], "t_ms": float(viewer.video_t_s[i]) * 1000.0} for i in keep]
    rows.sort(key=lambda s: s["t_ms"])
    return rows


def window_heatmap(
    viewers: Sequence[VideoViewer],
    t_s: float,
    window_s: float,
    video_size_px: tuple[float, float],
    *,
    source: Source = "fixations",
) -> HeatmapGrid:
    """Heatmap of the window ``[t_s - window_s / 2, t_s + window_s / 2)`` over every viewer, in video px
    (each viewer weighs the same; sigma the mean of the viewers'). ``source``: fixation parts weighted by
    their time in the window, or every valid sample in it. Raises ValidationError for ``window_s <= 0``
    or no viewer."""
    if not window_s > 0:
        raise ValidationError(f"window_s must be > 0, got {window_s}")
    if not viewers:
        raise ValidationError("no session watched this video", code="no_gaze")
    t0, t1 = t_s - window_s / 2.0, t_s + window_s / 2.0
    sigma = float(np.mean([v.sigma_px for v in viewers]))
    return aggregate_heatmap(
        [samples_in_window(v, t0, t1) for v in viewers],
        screen_size_px=video_size_px,
        source=source,
        sigma_px=sigma,
        fixations=[fixations_in_window(v, t0, t1) for v in viewers],
    )


def window_counts(viewers: Sequence[VideoViewer], window_s: float, duration_s: float) -> list[dict[str, Any]]:
    """Fixations per time window: for each window ``[k * window_s, (k + 1) * window_s)`` up to
    ``duration_s``, the fixations overlapping it (``fixations``), the viewers with one (``viewers``), the
    fixated time summed over viewers (``fixated_ms``) and the samples in it (``samples``).
    Raises ValidationError for a non-positive window or duration, or more than 10,000 windows."""
    if not (window_s > 0 and duration_s > 0):
        raise ValidationError("window_s and duration_s must be > 0")
    n = math.ceil(duration_s / window_s - 1e-9)
    if n > 10_000:
        raise ValidationError(f"{n} windows of {window_s} s: choose a wider window (at most 10,000)")
    rows = []
    for k in range(n):
        t0, t1 = k * window_s, min((k + 1) * window_s, duration_s + 1e-9)
        per = [fixations_in_window(v, t0, t1) for v in viewers]
        rows.append(
            {
                "t0_s": round(t0, 6),
                "t1_s": round(min(t1, duration_s), 6),
                "fixations": sum(len(p) for p in per),
                "viewers": sum(1 for p in per if p),
                "fixated_ms": round(sum(f.duration_ms for p in per for f in p), 3),
                "samples": int(
                    sum(np.count_nonzero((v.video_t_s >= t0) & (v.video_t_s < t1)) for v in viewers)
                ),
            }
        )
    return rows


def aoi_range_s(aoi: AOI, duration_s: float) -> tuple[float, float]:
    """(start, end) in video seconds in which ``aoi`` exists (the whole video when it has no range)."""
    start = aoi.start_s if aoi.start_s is not None else 0.0
    end = aoi.end_s if aoi.end_s is not None else duration_s
    return start, max(end, start)


def video_aoi_metrics(
    aois: Sequence[AOI | Mapping[str, Any]], viewer: VideoViewer, duration_s: float
) -> list[AOIMetrics]:
    """Per-AOI metrics of one viewer, each inside its AOI's time range (see the module docstring): TTFF
    from the range's start, dwell and first fixation duration of the fixation parts inside the range,
    sample dwell of the samples inside it. Raises ValidationError for invalid AOIs."""
    out = []
    for aoi in parse_aois(aois):
        start, end = aoi_range_s(aoi, duration_s)
        end_open = end + 1e-6 if end >= duration_s else end  # the last frame belongs to the range
        if end_open <= start:
            out.append(aoi_metrics([aoi], [], samples=None, start_ms=start * 1000.0)[0])
            continue
        fix = fixations_in_window(viewer, start, end_open)
        rows = samples_in_window(viewer, start, end_open)
        out.append(aoi_metrics([aoi], fix, samples=rows or None, start_ms=start * 1000.0)[0])
    return out


def video_aoi_report(
    aois: Sequence[AOI | Mapping[str, Any]], viewers: Sequence[VideoViewer], duration_s: float
) -> dict[str, Any]:
    """AOI figures of every viewer (``sessions``: ``session_id`` and one metrics dict per AOI) and across
    them (``aois``: :class:`~gazescope.analytics.aoi.AOIAggregate` dicts plus ``start_s``/``end_s``), over
    the viewers with screen gaze only: the others are listed in ``sessions_without_gaze``
    (``{"count", "session_ids", "reason"}``)."""
    parsed = parse_aois(aois)
    per = [video_aoi_metrics(parsed, v, duration_s) for v in viewers]
    without = [v.session_id for v in viewers if not v.has_gaze]
    agg = aggregate_aoi_metrics(
        [ms if v.has_gaze else None for v, ms in zip(viewers, per, strict=True)], [a.name for a in parsed]
    )
    ranges = {a.name: aoi_range_s(a, duration_s) for a in parsed}
    return {
        "aois": [{**a.to_dict(), "start_s": ranges[a.name][0], "end_s": ranges[a.name][1]} for a in agg],
        "sessions": [
            {"session_id": v.session_id, "aois": [m.to_dict() for m in ms]}
            for v, ms in zip(viewers, per, strict=True)
        ],
        "sessions_without_gaze": {"count": len(without), "session_ids": without, "reason": NO_GAZE_REASON},
    }
