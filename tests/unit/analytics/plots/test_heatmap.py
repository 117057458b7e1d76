"""The heatmap figure: PNG sizes, transparency, the bare overlay, bad stimuli."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gazescope.analytics.aoi import AOI
from gazescope.analytics.heatmap import HeatmapGrid, density_grid, session_heatmap
from gazescope.analytics.plots.heatmap import render_heatmap_overlay_png, render_heatmap_png
from gazescope.errors import FrameDecodeError, ValidationError


def test_pngs_decode_with_the_promised_size(fixation_samples, png):
    s = fixation_samples([(300, 200, 6), (1200, 700, 10)])
    g = session_heatmap(s, screen_size_px=(1280, 720), stimulus_size_px=(1023, 577))
    data = render_heatmap_png(g, stimulus_image=png.stimulus(1023, 577), title="t")
    assert png.size(data) == (1023, 577)
    transparent = render_heatmap_png(session_heatmap(s, screen_size_px=(1280, 720)))
    with Image.open(io.BytesIO(transparent)) as im:
        assert im.size == (1280, 720) and im.mode == "RGBA"
        assert im.getpixel((5, 715))[3] == 0  # nobody looked there: fully transparent
    aois = [AOI.rect("a", 100, 100, 300, 200), AOI.polygon("p", [(900, 500), (1200, 500), (1000, 700)])]
    assert png.size(render_heatmap_png(g, aois=aois)) == (1023, 577)


def test_overlay_png_is_the_map_alone_with_its_peak_in_place():
    sigma = 40.0
    d = density_grid([1500, 300], [800, 200], [3, 1], width_px=1920, height_px=1080, sigma_px=sigma)
    grid = HeatmapGrid(d, 1920.0, 1080.0, 10.0, sigma, 2, 1)
    with Image.open(io.BytesIO(render_heatmap_overlay_png(grid))) as im:
        rgba = np.asarray(im.convert("RGBA"))
    assert rgba.shape == (1080, 1920, 4)
    alpha = rgba[..., 3]
    assert alpha[0, 0] == 0 and alpha[540, 960] == 0  # nobody looked there: transparent
    assert alpha[800, 1500] == round(0.65 * 255) and alpha[200, 300] > 0
    with Image.open(io.BytesIO(render_heatmap_overlay_png(grid, max_side_px=960))) as im:
        assert im.size == (960, 540)
    empty = HeatmapGrid(np.zeros_like(d), 1920.0, 1080.0, 10.0, sigma, 0, 0)
    with Image.open(io.BytesIO(render_heatmap_overlay_png(empty))) as im:
        assert im.size == (1920, 1080) and np.asarray(im.convert("RGBA"))[..., 3].max() == 0
    with pytest.raises(ValidationError):
        render_heatmap_overlay_png(grid, max_alpha=2.0)


def test_bad_stimulus(make_sample):
    g = session_heatmap([make_sample(0, 1, 1)], screen_size_px=(100, 100))
    with pytest.raises(FrameDecodeError):
        render_heatmap_png(g, stimulus_image=b"not an image")
    with pytest.raises(FrameDecodeError):
        render_heatmap_png(g, stimulus_image=b"")
