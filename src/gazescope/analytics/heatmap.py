"""Gaze heatmaps as numeric grids (the figures are drawn in :mod:`gazescope.analytics.plots`).

Coordinate space: everything is drawn in **stimulus pixels** (see :mod:`gazescope.analytics.aoi`). Gaze is
recorded in screen pixels; when a stimulus of another size was stretched over the screen pass
``screen_size_px`` and ``stimulus_size_px`` and points are scaled with
:func:`gazescope.analytics.aoi.screen_to_stimulus`. Without a stimulus the space is the screen.

Heatmap method (attention map of Wooding 2002, "Eye movements of large populations: II. Deriving regions
of interest, coverage, and similarity using fixation maps", BRMIC 34(4); Le Meur & Baccino 2013,
"Methods for comparing scanpaths and saliency maps", BRM 45(1)): a 2-D histogram of fixation centroids
weighted by fixation duration (or of gaze samples weighted by the time each stands for) is convolved with a
Gaussian kernel (:func:`scipy.ndimage.gaussian_filter`). The kernel's sigma stands for the uncertainty of
each point: Le Meur & Baccino use about 1 degree of visual angle (the fovea) for lab trackers; webcam gaze is
far less accurate, so sigma follows the measured calibration accuracy (:func:`heatmap_sigma_px`).

Several sessions: each session's map is normalised to sum 1 before the maps are averaged, so every viewer
weighs the same however long they looked (Wooding 2002).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.ndimage import gaussian_filter

from gazescope.analytics.aoi import screen_to_stimulus
from gazescope.analytics.events import (
    EventParams,
    Fixation,
    FixationMethod,
    ScreenGeometry,
    detect_fixations,
)
from gazescope.analytics.samples import DEFAULT_MAX_GAP_MS, gaze_arrays, sample_durations_ms
from gazescope.errors import ValidationError

DEFAULT_ACCURACY_PX = 100.0
"""Assumed webcam calibration accuracy when none was measured: field reports run from 106 px (RealEye) to
172 px (WebGazer in a lab); see the data README."""

DEFAULT_MIN_SIGMA_PX = 38.0
"""Smallest kernel: about 1 degree of visual angle (Le Meur & Baccino 2013) at 60 cm from a 53 cm wide
1920 px screen."""


def heatmap_sigma_px(
    calibration_accuracy_px: float | None = None,
    *,
    min_sigma_px: float | None = None,
    geometry: ScreenGeometry | None = None,
) -> float:
    """Gaussian kernel sigma (px) for a heatmap: ``max(min_sigma_px, accuracy_px / sqrt(pi / 2))``.

    Why: if each gaze point's error is isotropic Gaussian with per-axis standard deviation sigma, its mean
    Euclidean error (what calibration reports as accuracy) is ``sigma * sqrt(pi / 2)`` (the mean of a
    Rayleigh distribution), so ``accuracy / 1.2533`` is the sigma that matches the measured error.
    ``calibration_accuracy_px``: mean calibration error in px (> 0), default
    :data:`DEFAULT_ACCURACY_PX` (100 px) when None. ``min_sigma_px``: floor, default 1 degree of visual angle
    from ``geometry`` when given, else :data:`DEFAULT_MIN_SIGMA_PX` (38 px).

    Raises :class:`gazescope.errors.ValidationError` for a non-positive accuracy or floor.
    """
    acc = DEFAULT_ACCURACY_PX if calibration_accuracy_px is None else float(calibration_accuracy_px)
    if not (acc > 0 and math.isfinite(acc)):
        raise ValidationError(f"calibration_accuracy_px must be > 0, got {calibration_accuracy_px!r}")
    if min_sigma_px is None:
        min_sigma_px = geometry.px_from_deg(1.0) if geometry is not None else DEFAULT_MIN_SIGMA_PX
    if not min_sigma_px > 0:
        raise ValidationError(f"min_sigma_px must be > 0, got {min_sigma_px!r}")
    return max(float(min_sigma_px), acc / math.sqrt(math.pi / 2.0))


@dataclass(frozen=True, slots=True, eq=False)
class HeatmapGrid:
    """A gaze density map over a ``width_px`` x ``height_px`` space.

    ``density``: float array (ny, nx), >= 0, summing to 1 (all zeros when there was no gaze); cell (i, j)
    covers x in ``[j * cell_px, (j + 1) * cell_px)``, y likewise with i. ``cell_px``: grid resolution
    (``sigma_px / 4`` rounded, at least 1 px, so the blur is exact to a quarter sigma while a 1920x1080
    map stays small). ``sigma_px``: kernel sigma used. ``n_points``: fixations or samples binned;
    ``n_sessions``: sessions that contributed gaze.
    """

    density: np.ndarray
    width_px: float
    height_px: float
    cell_px: float
    sigma_px: float
    n_points: int
    n_sessions: int

    def peak_px(self) -> tuple[float, float] | None:
        """(x, y) centre of the densest cell in the map's pixel space, or None for an empty map."""
        if not self.density.any():
            return None
        i, j = np.unravel_index(int(np.argmax(self.density)), self.density.shape)
        return (float((j + 0.5) * self.cell_px), float((i + 0.5) * self.cell_px))


def density_grid(
    x_px: np.ndarray | Sequence[float],
    y_px: np.ndarray | Sequence[float],
    weights: np.ndarray | Sequence[float] | None,
    *,
    width_px: float,
    height_px: float,
    sigma_px: float,
    cell_px: float | None = None,
) -> np.ndarray:
    """Gaussian-smoothed, weighted 2-D histogram of points, normalised to sum 1.

    ``x_px``/``y_px``/``weights``: (N,) arrays (weights default 1; NaN points and points outside
    ``[0, width_px) x [0, height_px)`` are ignored). Returns (ny, nx) with ``nx = ceil(width_px / cell)``;
    all zeros when no weight falls inside. Raises :class:`gazescope.errors.ValidationError` for
    non-positive sizes or sigma.
    """
    if not (width_px > 0 and height_px > 0 and sigma_px > 0):
        raise ValidationError(f"width, height and sigma must be > 0, got {width_px}, {height_px}, {sigma_px}")
    cell = float(cell_px) if cell_px else max(1.0, round(sigma_px / 4.0))
    nx, ny = max(1, math.ceil(width_px / cell)), max(1, math.ceil(height_px / cell))
    x = np.asarray(x_px, dtype=float)
    y = np.asarray(y_px, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    keep = (
        np.isfinite(x)
        & np.isfinite(y)
        & np.isfinite(w)
        & (x >= 0)
        & (x < width_px)
        & (y >= 0)
        & (y < height_px)
    )
    hist = np.zeros((ny, nx))
    if keep.any():
        np.add.at(hist, ((y[keep] // cell).astype(int), (x[keep] // cell).astype(int)), w[keep])
        hist = gaussian_filter(hist, sigma=sigma_px / cell, mode="constant", truncate=4.0)
    total = hist.sum()
    return hist / total if total > 0 else hist


def _session_points(
    samples: Sequence[Mapping[str, Any]],
    source: Literal["fixations", "samples"],
    fixations: Sequence[Fixation] | None,
    method: FixationMethod,
    max_gap_ms: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if source == "fixations":
        fix = (
            fixations
            if fixations is not None
            else detect_fixations(samples, method=method, params=EventParams(max_gap_ms=max_gap_ms))
        )
        return (
            np.array([f.x_px for f in fix], dtype=float),
            np.array([f.y_px for f in fix], dtype=float),
            np.array([f.duration_ms for f in fix], dtype=float),
        )
    if source == "samples":
        ga = gaze_arrays(samples, max_gap_ms=max_gap_ms)
        w = sample_durations_ms(ga.t_ms, max_ms=max_gap_ms)
        return ga.x_px[ga.valid], ga.y_px[ga.valid], w[ga.valid]
    raise ValidationError(f"unknown heatmap source {source!r}; available: 'fixations', 'samples'")


def aggregate_heatmap(
    sessions: Sequence[Sequence[Mapping[str, Any]]],
    *,
    screen_size_px: tuple[float, float],
    stimulus_size_px: tuple[float, float] | None = None,
    source: Literal["fixations", "samples"] = "fixations",
    calibration_accuracy_px: float | None = None,
    sigma_px: float | None = None,
    geometry: ScreenGeometry | None = None,
    fixations: Sequence[Sequence[Fixation]] | None = None,
    method: FixationMethod = "idt",
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
) -> HeatmapGrid:
    """Heatmap of several sessions (viewers), each normalised to sum 1 so each viewer weighs the same.

    ``sessions``: one sample list per session (screen px). ``screen_size_px`` (width, height) of the screen
    the gaze was recorded on; ``stimulus_size_px``: the stimulus it showed (the map's space), default the
    screen. ``source``: "fixations" (duration-weighted fixation centroids, default; detected with
    ``method`` and default thresholds unless ``fixations`` gives one list per session) or "samples" (every
    valid sample, weighted by the time it stands for). ``sigma_px``: kernel sigma in screen px (scaled
    with the stimulus like the points), default
    :func:`heatmap_sigma_px` of ``calibration_accuracy_px``.

    Raises :class:`gazescope.errors.ValidationError` for bad sizes, an unknown source, or a ``fixations``
    list whose length differs from ``sessions``.
    """
    space = stimulus_size_px or screen_size_px
    if space is None or len(space) != 2 or min(space) <= 0:
        raise ValidationError(f"a positive (width, height) is needed, got {space!r}")
    if fixations is not None and len(fixations) != len(sessions):
        raise ValidationError("fixations must hold one list per session")
    sigma = (
        float(sigma_px)
        if sigma_px is not None
        else heatmap_sigma_px(calibration_accuracy_px, geometry=geometry)
    )
    if sigma_px is not None and not sigma > 0:
        raise ValidationError(f"sigma_px must be > 0, got {sigma_px!r}")
    # a stretched stimulus shrinks or grows the error too: scale sigma with the mean axis scale
    if stimulus_size_px is not None:
        sigma *= 0.5 * (stimulus_size_px[0] / screen_size_px[0] + stimulus_size_px[1] / screen_size_px[1])
    cell = max(1.0, round(sigma / 4.0))
    total = None
    n_points = n_used = 0
    for k, samples in enumerate(sessions):
        x, y, w = _session_points(
            samples, source, fixations[k] if fixations is not None else None, method, max_gap_ms
        )
        x, y = screen_to_stimulus(x, y, screen_size_px, stimulus_size_px)
        d = density_grid(x, y, w, width_px=space[0], height_px=space[1], sigma_px=sigma, cell_px=cell)
        if total is None:
            total = np.zeros_like(d)
        if d.any():
            total += d
            n_used += 1
            n_points += len(x)
    if total is None:
        total = density_grid(
            [], [], None, width_px=space[0], height_px=space[1], sigma_px=sigma, cell_px=cell
        )
    if n_used:
        total /= n_used
    return HeatmapGrid(total, float(space[0]), float(space[1]), cell, sigma, n_points, n_used)


def session_heatmap(
    samples: Sequence[Mapping[str, Any]],
    *,
    screen_size_px: tuple[float, float],
    stimulus_size_px: tuple[float, float] | None = None,
    source: Literal["fixations", "samples"] = "fixations",
    calibration_accuracy_px: float | None = None,
    sigma_px: float | None = None,
    geometry: ScreenGeometry | None = None,
    fixations: Sequence[Fixation] | None = None,
    method: FixationMethod = "idt",
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
) -> HeatmapGrid:
    """Heatmap of one session; arguments as :func:`aggregate_heatmap` (``fixations`` is one list)."""
    return aggregate_heatmap(
        [samples],
        screen_size_px=screen_size_px,
        stimulus_size_px=stimulus_size_px,
        source=source,
        calibration_accuracy_px=calibration_accuracy_px,
        sigma_px=sigma_px,
        geometry=geometry,
        fixations=[fixations] if fixations is not None else None,
        method=method,
        max_gap_ms=max_gap_ms,
    )
