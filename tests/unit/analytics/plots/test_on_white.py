"""analytics.plots.on_white: a transparent PNG made opaque over white, same size."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from gazescope.analytics.plots.on_white import on_white


def test_transparent_pixels_turn_white_and_opaque_ones_stay() -> None:
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    with Image.open(io.BytesIO(on_white(buf.getvalue()))) as im:
        assert im.mode == "RGB" and im.size == (6, 4)
        assert im.getpixel((0, 0)) == (255, 0, 0) and im.getpixel((5, 3)) == (255, 255, 255)
