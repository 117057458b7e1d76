"""The gaze-trail figure: raw valid screen points joined in time order, broken at gaps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.collections import LineCollection

from gazescope.analytics.aoi import screen_to_stimulus
from gazescope.analytics.plots.canvas import (
    DEFAULT_MAX_SIDE_PX,
    canvas,
    caption,
    check_size,
    frame,
    png_bytes,
    stimulus_or_none,
)
from gazescope.analytics.samples import DEFAULT_MAX_GAP_MS, gaze_arrays


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
    w, h = check_size(size_px)
    stim = stimulus_or_none(stimulus_image)
    fig, ax, size = canvas(w, h, stimulus=stim, max_side_px=max_side_px, background="white")
    if stim is None:
        frame(ax, w, h)
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
    caption(ax, title, size[1])
    return png_bytes(fig, size, transparent=False)
