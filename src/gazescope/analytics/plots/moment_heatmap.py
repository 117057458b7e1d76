"""The heatmap of one moment of a video stimulus, drawn on the video's frame at that moment."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from gazescope.analytics.aoi import AOI
from gazescope.analytics.heatmap import HeatmapGrid
from gazescope.analytics.plots.heatmap import render_heatmap_png


def render_moment_heatmap_png(
    grid: HeatmapGrid, frame_rgb: np.ndarray, *, title: str | None = None, aois: Sequence[AOI] = ()
) -> bytes:
    """PNG of ``grid`` (video pixels) over ``frame_rgb`` ((H, W, 3) uint8 RGB, the frame shown at the
    moment), with an optional caption and the outlines of the AOIs shown at that moment."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return render_heatmap_png(grid, stimulus_image=buf.tobytes(), title=title, aois=list(aois))
