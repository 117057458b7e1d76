"""The session timeline figure."""

from __future__ import annotations

import io

from PIL import Image

from gazescope.analytics.plots.timeline import render_timeline_png


def test_timeline_png_size(video_samples):
    png = render_timeline_png(video_samples)
    with Image.open(io.BytesIO(png)) as im:
        assert im.size == (1200, 900)
