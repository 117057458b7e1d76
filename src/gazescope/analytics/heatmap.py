"""Gaze heatmaps, scanpaths and gaze trails, rendered to PNG with matplotlib (Agg, no pyplot state).

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

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Circle
from PIL import Image, UnidentifiedImageError
from scipy.ndimage import gaussian_filter

from gazescope.analytics.aoi import AOI, screen_to_stimulus
from gazescope.analytics.events import (
    Fixation,
    FixationMethod,
    ScreenGeometry,
    detect_fixations,
)
from gazescope.analytics.samples import DEFAULT_MAX_GAP_MS, gaze_arrays, sample_durations_ms
from gazescope.errors import FrameDecodeError, ValidationError

DEFAULT_ACCURACY_PX = 100.0
"""Assumed webcam calibration accuracy when none was measured: field reports run from 106 px (RealEye) to
172 px (WebGazer in a lab); see the data README."""

DEFAULT_MIN_SIGMA_PX = 38.0
"""Smallest kernel: about 1 degree of visual angle (Le Meur & Baccino 2013) at 60 cm from a 53 cm wide
1920 px screen."""

MAX_STIMULUS_PIXELS = 50_000_000
"""Largest stimulus image decoded (width x height), against decompression bombs."""

DEFAULT_MAX_SIDE_PX = 1920
"""Longest side of rendered PNGs; larger stimulus spaces are drawn scaled down."""


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
        return ((j + 0.5) * self.cell_px, (i + 0.5) * self.cell_px)


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
    fixation_kwargs: Mapping[str, Any],
    max_gap_ms: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if source == "fixations":
        fix = (
            fixations
            if fixations is not None
            else detect_fixations(samples, max_gap_ms=max_gap_ms, **fixation_kwargs)
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
            samples, source, fixations[k] if fixations is not None else None, {"method": method}, max_gap_ms
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


# --------------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------------


def decode_stimulus(data: bytes) -> np.ndarray:
    """Decode a stimulus image (PNG, JPEG, or anything Pillow reads) to an RGB uint8 array (H, W, 3).

    Raises :class:`gazescope.errors.FrameDecodeError` when the bytes are empty or not an image, and
    :class:`gazescope.errors.FrameTooLargeError` over :data:`MAX_STIMULUS_PIXELS`.
    """
    from gazescope.errors import FrameTooLargeError

    if not data:
        raise FrameDecodeError("stimulus image is empty")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_STIMULUS_PIXELS:
                raise FrameTooLargeError(
                    f"stimulus image is {im.width}x{im.height}, over {MAX_STIMULUS_PIXELS} pixels"
                )
            return np.asarray(im.convert("RGB"))
    except FrameDecodeError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FrameDecodeError(f"stimulus image could not be decoded: {type(exc).__name__}") from exc


def _out_size(width_px: float, height_px: float, max_side_px: int) -> tuple[int, int]:
    scale = min(1.0, max_side_px / max(width_px, height_px))
    return max(1, round(width_px * scale)), max(1, round(height_px * scale))


def _canvas(
    width_px: float,
    height_px: float,
    *,
    stimulus: np.ndarray | None,
    max_side_px: int,
    background: str | None,
) -> tuple[Figure, Any, tuple[int, int]]:
    """A figure whose single axes fill it exactly, data coordinates = the stimulus space (y down)."""
    ow, oh = _out_size(width_px, height_px, max_side_px)
    dpi = 100
    fig = Figure(figsize=(ow / dpi, oh / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(0, width_px)
    ax.set_ylim(height_px, 0)
    if background is not None:
        fig.patch.set_facecolor(background)
        ax.set_facecolor(background)
    else:
        fig.patch.set_alpha(0.0)
        ax.patch.set_alpha(0.0)
    if stimulus is not None:
        ax.imshow(stimulus, extent=(0, width_px, height_px, 0), interpolation="antialiased", aspect="auto")
    return fig, ax, (ow, oh)


def _caption(ax: Any, text: str | None, out_h: int) -> None:
    if not text:
        return
    ax.text(
        0.01,
        0.99,
        text,
        transform=ax.transAxes,
        ha="left",
        va="top",
        fontsize=max(7.0, min(13.0, out_h / 55)),
        color="white",
        bbox={"boxstyle": "round,pad=0.35", "facecolor": "black", "alpha": 0.6, "edgecolor": "none"},
        zorder=10,
    )


def _png(fig: Figure, size: tuple[int, int], transparent: bool) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, transparent=transparent)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as im:
        if im.size != size:  # float rounding of the figure size: resample to the exact promised size
            out = io.BytesIO()
            im.resize(size, Image.Resampling.LANCZOS).save(out, format="PNG")
            data = out.getvalue()
    return data


def _stimulus_or_none(stimulus_image: bytes | None) -> np.ndarray | None:
    return decode_stimulus(stimulus_image) if stimulus_image is not None else None


def heatmap_rgba(grid: HeatmapGrid, *, cmap: str = "jet", max_alpha: float = 0.65) -> np.ndarray | None:
    """Colours of a heatmap grid: float RGBA array (ny, nx, 4) in 0..1, or None for an empty map.

    Colour: ``cmap`` (matplotlib name) over density relative to the peak; opacity rises from 0 below 2 % of
    the peak to ``max_alpha`` (0-1) at 35 % and above, so that unlooked-at regions stay clear. Raises
    :class:`gazescope.errors.ValidationError` for an unknown colour map or an alpha outside 0-1.
    """
    if not 0 <= max_alpha <= 1:
        raise ValidationError(f"max_alpha must be within 0..1, got {max_alpha!r}")
    try:
        cm = colormaps[cmap]
    except KeyError as exc:
        raise ValidationError(f"unknown colour map {cmap!r}") from exc
    peak = grid.density.max()
    if not peak > 0:
        return None
    rel = grid.density / peak
    rgba = cm(rel)
    rgba[..., 3] = max_alpha * np.clip((rel - 0.02) / 0.33, 0.0, 1.0)
    return rgba


def render_heatmap_overlay_png(
    grid: HeatmapGrid,
    *,
    cmap: str = "jet",
    max_alpha: float = 0.65,
    max_side_px: int = DEFAULT_MAX_SIDE_PX,
) -> bytes:
    """A heatmap alone as an RGBA PNG of the grid's size (scaled down to ``max_side_px`` on the longer
    side), transparent where nobody looked: the colours of :func:`heatmap_rgba`, upsampled bilinearly,
    without a figure (no stimulus, caption or AOIs), so it takes tens of milliseconds where
    :func:`render_heatmap_png` takes about a second at 1920x1080 (seed 003's ``/upload``, once a second).
    Raises what :func:`heatmap_rgba` raises."""
    ow, oh = _out_size(grid.width_px, grid.height_px, max_side_px)
    rgba = heatmap_rgba(grid, cmap=cmap, max_alpha=max_alpha)
    if rgba is None:
        img = Image.new("RGBA", (ow, oh), (0, 0, 0, 0))
    else:
        scale = ow / grid.width_px
        ny, nx = rgba.shape[:2]
        full = (max(ow, round(nx * grid.cell_px * scale)), max(oh, round(ny * grid.cell_px * scale)))
        cells = Image.fromarray(np.round(rgba * 255).astype(np.uint8), mode="RGBA")
        img = cells.resize(full, Image.Resampling.BILINEAR).crop((0, 0, ow, oh))  # the grid may overhang
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def render_heatmap_png(
    grid: HeatmapGrid,
    *,
    stimulus_image: bytes | None = None,
    cmap: str = "jet",
    max_alpha: float = 0.65,
    title: str | None = None,
    max_side_px: int = DEFAULT_MAX_SIDE_PX,
    aois: Sequence[AOI] | None = None,
) -> bytes:
    """Render a heatmap to PNG bytes.

    With ``stimulus_image`` (encoded bytes, any size) the map is stretched over the image and the PNG has
    the image's size; build the grid with ``stimulus_size_px`` equal to the image size so that coordinates
    agree. Without it the PNG is RGBA with a transparent background, the grid's size. Sizes over
    ``max_side_px`` on the longer side are scaled down (aspect kept). Colour: ``cmap`` (matplotlib name)
    over density relative to the peak; opacity rises from 0 below 2 % of the peak to ``max_alpha`` (0-1)
    at 35 % and above, so that unlooked-at regions stay clear. ``title``: optional caption at top-left.
    ``aois``: outlined and labelled (in the grid's pixel space).

    Raises :class:`gazescope.errors.FrameDecodeError` for an undecodable stimulus and
    :class:`gazescope.errors.ValidationError` for an unknown colour map or an alpha outside 0-1.
    """
    rgba = heatmap_rgba(grid, cmap=cmap, max_alpha=max_alpha)
    stim = _stimulus_or_none(stimulus_image)
    w, h = (stim.shape[1], stim.shape[0]) if stim is not None else (grid.width_px, grid.height_px)
    fig, ax, size = _canvas(w, h, stimulus=stim, max_side_px=max_side_px, background=None)
    if rgba is not None:
        gw, gh = grid.density.shape[1] * grid.cell_px, grid.density.shape[0] * grid.cell_px
        # the grid may overhang the space by less than a cell; scale to the drawn space
        sx, sy = w / grid.width_px, h / grid.height_px
        ax.imshow(rgba, extent=(0, gw * sx, gh * sy, 0), interpolation="bilinear", aspect="auto")
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
    _draw_aois(ax, aois, w / grid.width_px, h / grid.height_px, size[1])
    _caption(ax, title, size[1])
    return _png(fig, size, transparent=stim is None)


def render_scanpath_png(
    fixations: Sequence[Fixation],
    *,
    size_px: tuple[float, float],
    stimulus_image: bytes | None = None,
    screen_size_px: tuple[float, float] | None = None,
    title: str | None = None,
    max_side_px: int = DEFAULT_MAX_SIDE_PX,
    aois: Sequence[AOI] | None = None,
) -> bytes:
    """Scanpath PNG: fixations as numbered circles (area proportional to duration), joined in time order
    by lines (the saccades), on the stimulus or on white.

    ``size_px``: (width, height) of the drawing space (the stimulus or screen, px). Fixations are in screen
    px; with ``screen_size_px`` they are scaled to ``size_px`` (a stretched stimulus). The PNG has
    ``size_px`` (scaled down to ``max_side_px``); with ``stimulus_image`` the image is stretched over it.
    The largest circle's radius is 4 % of the shorter side. Colour runs from purple (first) to yellow (last)
    (viridis). ``title``: caption at top-left (default: counts and the size legend). ``aois`` (in
    ``size_px`` space) are outlined and labelled.

    Raises :class:`gazescope.errors.FrameDecodeError` for an undecodable stimulus and
    :class:`gazescope.errors.ValidationError` for a non-positive size.
    """
    w, h = _check_size(size_px)
    stim = _stimulus_or_none(stimulus_image)
    fig, ax, size = _canvas(w, h, stimulus=stim, max_side_px=max_side_px, background="white")
    if stim is None:
        _frame(ax, w, h)
    _draw_aois(ax, aois, 1.0, 1.0, size[1])
    xs, ys = screen_to_stimulus(
        [f.x_px for f in fixations],
        [f.y_px for f in fixations],
        screen_size_px,
        (w, h) if screen_size_px else None,
    )
    n = len(fixations)
    if n:
        dur = np.array([f.duration_ms for f in fixations], dtype=float)
        r_max = 0.04 * min(w, h)
        radii = np.maximum(r_max * np.sqrt(dur / max(dur.max(), 1e-9)), 0.008 * min(w, h))
        colours = colormaps["viridis"](np.linspace(0.0, 1.0, n))
        ax.plot(xs, ys, color="black", lw=2.6, alpha=0.55, zorder=2, solid_capstyle="round")
        ax.plot(xs, ys, color="white", lw=1.2, alpha=0.9, zorder=2.1, solid_capstyle="round")
        fs = max(6.0, min(12.0, size[1] / 60)) * (0.8 if n > 50 else 1.0)
        # label positions: a label that would cover an earlier one (a refixation) moves right
        step = 2.2 * fs * (w / size[0])  # about two characters, in drawing units
        placed: list[tuple[float, float]] = []
        for k in range(n):
            ax.add_patch(
                Circle(
                    (xs[k], ys[k]),
                    radii[k],
                    facecolor=colours[k],
                    edgecolor="black",
                    lw=1.0,
                    alpha=0.75,
                    zorder=3,
                )
            )
            lx, ly = float(xs[k]), float(ys[k])
            while any(abs(lx - px) < step and abs(ly - py) < 0.6 * step for px, py in placed):
                lx += step
            placed.append((lx, ly))
            ax.text(
                lx, ly, str(k + 1), ha="center", va="center", fontsize=fs, color="white",
                fontweight="bold", zorder=4,
                path_effects=_outline(),
            )  # fmt: skip
    if title is None:
        total_s = sum(f.duration_ms for f in fixations) / 1000.0
        title = (
            f"Scanpath: {n} fixations, {total_s:.1f} s fixated\ncircle area ∝ duration; colour: first → last"
        )
    _caption(ax, title, size[1])
    return _png(fig, size, transparent=False)


def render_gaze_trail_png(
    samples: Sequence[Mapping[str, Any]],
    *,
    size_px: tuple[float, float],
    stimulus_image: bytes | None = None,
    screen_size_px: tuple[float, float] | None = None,
    title: str | None = None,
    max_side_px: int = DEFAULT_MAX_SIDE_PX,
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
) -> bytes:
    """Gaze trail PNG: the raw valid screen points joined in time order, coloured from purple (start) to
    yellow (end), broken at gaps (blinks, lost face, off-screen, pauses over ``max_gap_ms``).

    Arguments and size as :func:`render_scanpath_png`. Raises the same errors, and
    :class:`gazescope.errors.ValidationError` for bad timestamps.
    """
    w, h = _check_size(size_px)
    stim = _stimulus_or_none(stimulus_image)
    fig, ax, size = _canvas(w, h, stimulus=stim, max_side_px=max_side_px, background="white")
    if stim is None:
        _frame(ax, w, h)
    ga = gaze_arrays(samples, max_gap_ms=max_gap_ms)
    x, y = screen_to_stimulus(ga.x_px, ga.y_px, screen_size_px, (w, h) if screen_size_px else None)
    n_valid = int(ga.valid.sum())
    if n_valid:
        t = ga.t_ms
        t_rel = (t - t[ga.valid][0]) / max(t[ga.valid][-1] - t[ga.valid][0], 1e-9)
        same = (ga.segment[:-1] >= 0) & (ga.segment[:-1] == ga.segment[1:])
        segs = np.stack([np.column_stack([x[:-1], y[:-1]]), np.column_stack([x[1:], y[1:]])], axis=1)[same]
        cm = colormaps["viridis"]
        if len(segs):
            lc = LineCollection(segs, colors=cm(t_rel[:-1][same]), linewidths=1.8, alpha=0.85, zorder=2)
            ax.add_collection(lc)
        ax.scatter(x[ga.valid], y[ga.valid], s=6, c=cm(t_rel[ga.valid]), zorder=3, linewidths=0)
        iv = np.flatnonzero(ga.valid)
        ax.scatter(
            [x[iv[0]]], [y[iv[0]]], s=90, marker="o", facecolor="none", edgecolor="black", lw=2, zorder=4
        )
        ax.scatter([x[iv[-1]]], [y[iv[-1]]], s=110, marker="X", color="black", zorder=4)
    if title is None:
        dur_s = (ga.t_ms[-1] - ga.t_ms[0]) / 1000.0 if len(ga.t_ms) > 1 else 0.0
        title = f"Gaze trail: {n_valid} samples over {dur_s:.1f} s\n○ start  ✕ end; colour: early → late"
    _caption(ax, title, size[1])
    return _png(fig, size, transparent=False)


def _check_size(size_px: tuple[float, float]) -> tuple[float, float]:
    if size_px is None or len(size_px) != 2 or not (size_px[0] > 0 and size_px[1] > 0):
        raise ValidationError(f"size_px must be a positive (width, height), got {size_px!r}")
    return float(size_px[0]), float(size_px[1])


def _frame(ax: Any, w: float, h: float) -> None:
    """Light grid and border so points on a blank screen can be placed by eye."""
    for k in range(1, 4):
        ax.axvline(w * k / 4, color="0.88", lw=0.8, zorder=0)
        ax.axhline(h * k / 4, color="0.88", lw=0.8, zorder=0)
    ax.plot([0, w, w, 0, 0], [0, 0, h, h, 0], color="0.6", lw=2, zorder=0)


def _draw_aois(ax: Any, aois: Sequence[AOI] | None, sx: float, sy: float, out_h: int) -> None:
    """Dashed outlines (white over black, visible on any background) with the AOI name at top-left."""
    from matplotlib.patches import Polygon

    for a in aois or []:
        v = a.vertices_px * np.array([sx, sy])
        ax.add_patch(Polygon(v, closed=True, fill=False, edgecolor="black", lw=2.6, zorder=5))
        ax.add_patch(
            Polygon(v, closed=True, fill=False, edgecolor="white", lw=1.4, ls=(0, (5, 3)), zorder=5.1)
        )
        x0, y0 = v[:, 0].min(), v[:, 1].min()
        ax.text(
            x0 + 4 * sx, y0 + 4 * sy, a.name, ha="left", va="top", fontsize=max(7.0, min(11.0, out_h / 65)),
            color="white", zorder=6, path_effects=_outline(),
        )  # fmt: skip


def _outline() -> list[Any]:
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=2.0, foreground="black")]
