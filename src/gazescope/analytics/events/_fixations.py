"""What the fixation detectors share: threshold resolution, the fixation of a run of samples, and merging
adjacent fixations (Olsen 2012). Their parameters and defaults are :mod:`.params`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gazescope.analytics.events._library import as_positions
from gazescope.analytics.events.geometry import ScreenGeometry
from gazescope.analytics.events.params import DEFAULT_DISPERSION_DEG, DEFAULT_DISPERSION_PX
from gazescope.analytics.events.results import Fixation
from gazescope.analytics.samples import check_timestamps, segment_ids
from gazescope.errors import ValidationError

EPS_MS = 1e-6


@dataclass(frozen=True, slots=True)
class Track:
    """Detector input after checks: ``t_ms`` (N,), ``positions_px`` (N, 2) with NaN rows for invalid
    samples, ``segment`` (N,) int (-1 invalid; see :func:`gazescope.analytics.samples.segment_ids`)."""

    t_ms: np.ndarray
    positions_px: np.ndarray
    segment: np.ndarray


def track(positions: np.ndarray, timestamps: np.ndarray, max_gap_ms: float) -> Track:
    """Check detector input and split it into segments. Raises
    :class:`gazescope.errors.ValidationError` for bad shapes, timestamps or ``max_gap_ms``."""
    if not max_gap_ms > 0:
        raise ValidationError(f"max_gap_ms must be > 0, got {max_gap_ms!r}")
    pos, t = as_positions(positions, timestamps)
    check_timestamps(t)
    valid = np.isfinite(pos).all(axis=1)
    return Track(t, pos, segment_ids(valid, t, max_gap_ms))


def resolve_threshold(
    px: float | None,
    deg: float | None,
    geometry: ScreenGeometry | None,
    default_px: float,
    default_deg: float,
) -> tuple[float, float | None]:
    """(threshold_px, threshold_deg) from the caller's choices: px wins, then deg (needs geometry)."""
    if px is not None:
        if not px > 0:
            raise ValidationError(f"threshold in px must be > 0, got {px!r}")
        return float(px), (float(geometry.deg_from_px(px)) if geometry else None)
    if deg is not None:
        if geometry is None:
            raise ValidationError(
                "a threshold in degrees needs screen geometry (screen_w_px, screen_w_cm, distance_cm)"
            )
        if not deg > 0:
            raise ValidationError(f"threshold in degrees must be > 0, got {deg!r}")
        return geometry.px_from_deg(deg), float(deg)
    if geometry is not None:
        return geometry.px_from_deg(default_deg), default_deg
    return default_px, None


def check_min_duration(min_duration_ms: float) -> None:
    if not (min_duration_ms >= 0 and math.isfinite(min_duration_ms)):
        raise ValidationError(f"min_duration_ms must be >= 0, got {min_duration_ms!r}")


def make_fixation(tr: Track, idx: np.ndarray) -> Fixation:
    """The fixation made of samples ``idx`` (indices into the track, time order)."""
    xs, ys = tr.positions_px[idx, 0], tr.positions_px[idx, 1]
    t0, t1 = float(tr.t_ms[idx[0]]), float(tr.t_ms[idx[-1]])
    return Fixation(
        start_ms=t0,
        end_ms=t1,
        duration_ms=t1 - t0,
        x_px=float(xs.mean()),
        y_px=float(ys.mean()),
        n_samples=len(idx),
        dispersion_px=float(np.ptp(xs) + np.ptp(ys)),
        start_index=int(idx[0]),
        end_index=int(idx[-1]),
    )


def merge_distance(merge_distance_px: float | None, geometry: ScreenGeometry | None) -> float:
    """Merge distance (px): as given (>= 0), else half the default I-DT dispersion threshold."""
    if merge_distance_px is not None:
        if not merge_distance_px >= 0:
            raise ValidationError(f"merge_distance_px must be >= 0, got {merge_distance_px!r}")
        return float(merge_distance_px)
    thr, _ = resolve_threshold(None, None, geometry, DEFAULT_DISPERSION_PX, DEFAULT_DISPERSION_DEG)
    return thr / 2.0


def merge_adjacent(tr: Track, fixations: list[Fixation], distance_px: float, gap_ms: float) -> list[Fixation]:
    """Merge consecutive fixations of one segment that are close in time and space (Olsen 2012)."""
    if distance_px <= 0 or not fixations:
        return fixations
    out = [fixations[0]]
    for f in fixations[1:]:
        prev = out[-1]
        if (
            tr.segment[prev.end_index] == tr.segment[f.start_index]
            and f.start_ms - prev.end_ms <= gap_ms + EPS_MS
            and math.hypot(f.x_px - prev.x_px, f.y_px - prev.y_px) <= distance_px + 1e-9
        ):
            out[-1] = make_fixation(tr, np.arange(prev.start_index, f.end_index + 1))
        else:
            out.append(f)
    return out


def velocities_px_s(tr: Track, a: np.ndarray) -> np.ndarray:
    """Point-to-point velocity (px/s) of each interval between consecutive indices ``a``: (len-1,)."""
    d = np.diff(tr.positions_px[a], axis=0)
    dt = np.diff(tr.t_ms[a]) / 1000.0
    dist = np.hypot(d[:, 0], d[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(dt > 0, dist / np.where(dt > 0, dt, 1.0), np.where(dist > 0, np.inf, 0.0))
    return v
