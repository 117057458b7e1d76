"""The scanpath figure: fixations as numbered circles (area proportional to duration) joined in time order
(Noton & Stark 1971's scanpaths; drawn as in Holmqvist et al. 2011, "Eye Tracking", ch. 7)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.patches import Circle

from gazescope.analytics.aoi import AOI, screen_to_stimulus
from gazescope.analytics.events import Fixation
from gazescope.analytics.plots.canvas import (
    DEFAULT_MAX_SIDE_PX,
    canvas,
    caption,
    check_size,
    draw_aois,
    frame,
    outline,
    png_bytes,
    stimulus_or_none,
)


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
    w, h = check_size(size_px)
    stim = stimulus_or_none(stimulus_image)
    fig, ax, size = canvas(w, h, stimulus=stim, max_side_px=max_side_px, background="white")
    if stim is None:
        frame(ax, w, h)
    draw_aois(ax, aois, 1.0, 1.0, size[1])
    xs, ys = screen_to_stimulus(
        np.array([f.x_px for f in fixations], dtype=float),
        np.array([f.y_px for f in fixations], dtype=float),
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
                path_effects=outline(),
            )  # fmt: skip
    if title is None:
        total_s = sum(f.duration_ms for f in fixations) / 1000.0
        title = (
            f"Scanpath: {n} fixations, {total_s:.1f} s fixated\ncircle area ∝ duration; colour: first → last"
        )
    caption(ax, title, size[1])
    return png_bytes(fig, size, transparent=False)
