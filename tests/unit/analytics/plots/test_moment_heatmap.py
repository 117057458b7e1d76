"""analytics.plots.moment_heatmap: a heatmap grid drawn on a real video frame, at the frame's size."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from gazescope.analytics.heatmap import HeatmapGrid, density_grid
from gazescope.analytics.plots.moment_heatmap import render_moment_heatmap_png
from gazescope.vision.video import read_frame_at


def test_the_heatmap_is_drawn_on_the_frame(data_dir: Path) -> None:
    frame = read_frame_at(data_dir / "videos" / "hamilton_clip_640x360.mp4", 1.0, 29.97)
    density = density_grid(
        [320.0, 330.0], [180.0, 170.0], None, width_px=640, height_px=360, sigma_px=40, cell_px=10
    )
    grid = HeatmapGrid(density, 640.0, 360.0, 10.0, 40.0, n_points=2, n_sessions=1)
    png = render_moment_heatmap_png(grid, frame, title="one moment")
    with Image.open(io.BytesIO(png)) as im:
        assert im.size == (640, 360)
