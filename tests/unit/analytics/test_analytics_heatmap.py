"""Heatmap density (peak where the fixations are, per-viewer weighting), PNG rendering and sizes."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from gazescope.analytics.aoi import AOI
from gazescope.analytics.events import Fixation, ScreenGeometry
from gazescope.analytics.heatmap import (
    HeatmapGrid,
    aggregate_heatmap,
    density_grid,
    heatmap_sigma_px,
    render_gaze_trail_png,
    render_heatmap_overlay_png,
    render_heatmap_png,
    render_scanpath_png,
    session_heatmap,
)
from gazescope.errors import FrameDecodeError, ValidationError


def fixation_samples(make_sample, spots, t0=0.0):
    """Samples at 50 ms holding still ``n`` samples at each (x, y, n) of ``spots``."""
    out, t = [], t0
    for x, y, n in spots:
        for _ in range(n):
            out.append(make_sample(t, x, y))
            t += 50
    return out


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.size


def stimulus_png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (240, 240, 200)).save(buf, format="PNG")
    return buf.getvalue()


def test_sigma_follows_accuracy():
    assert heatmap_sigma_px(200) == pytest.approx(200 / math.sqrt(math.pi / 2))
    assert heatmap_sigma_px(10) == 38.0  # floor
    assert heatmap_sigma_px(10, min_sigma_px=5) == pytest.approx(10 / math.sqrt(math.pi / 2))
    g = ScreenGeometry(1920, 53, 60)
    assert heatmap_sigma_px(1, geometry=g) == pytest.approx(g.px_from_deg(1.0))
    with pytest.raises(ValidationError):
        heatmap_sigma_px(-5)


def test_density_peak_where_the_weight_is():
    d = density_grid([100, 500], [100, 300], [1, 3], width_px=800, height_px=600, sigma_px=20, cell_px=4)
    assert d.shape == (150, 200) and d.sum() == pytest.approx(1.0)
    i, j = np.unravel_index(np.argmax(d), d.shape)
    assert (j * 4, i * 4) == (500, 300)


def test_session_heatmap_peak_at_longest_fixation(make_sample):
    s = fixation_samples(make_sample, [(300, 200, 6), (1200, 700, 20), (1700, 150, 8)])
    g = session_heatmap(s, screen_size_px=(1920, 1080), calibration_accuracy_px=60)
    px, py = g.peak_px()
    assert abs(px - 1200) <= g.cell_px and abs(py - 700) <= g.cell_px
    assert g.n_points == 3 and g.n_sessions == 1
    # in stimulus space: a 960x540 stimulus stretched over the screen halves the coordinates
    g2 = session_heatmap(s, screen_size_px=(1920, 1080), stimulus_size_px=(960, 540), source="samples")
    px, py = g2.peak_px()
    assert abs(px - 600) <= g2.cell_px and abs(py - 350) <= g2.cell_px


def test_aggregate_weighs_each_viewer_equally(make_sample):
    long_viewer = fixation_samples(make_sample, [(400, 400, 200)])  # 10 s at one place
    short_a = fixation_samples(make_sample, [(1500, 400, 5)])
    short_b = fixation_samples(make_sample, [(1500, 400, 5)])
    g = aggregate_heatmap([long_viewer, short_a, short_b], screen_size_px=(1920, 1080), sigma_px=40)
    px, _ = g.peak_px()
    assert abs(px - 1500) <= g.cell_px  # two viewers there beat one viewer's long look
    assert g.n_sessions == 3 and g.density.sum() == pytest.approx(1.0)
    empty = aggregate_heatmap([[make_sample(0, None, None)]], screen_size_px=(100, 100))
    assert empty.peak_px() is None and empty.n_sessions == 0


def test_pngs_decode_with_the_promised_size(make_sample):
    s = fixation_samples(make_sample, [(300, 200, 6), (1200, 700, 10)])
    g = session_heatmap(s, screen_size_px=(1280, 720), stimulus_size_px=(1023, 577))
    data = render_heatmap_png(g, stimulus_image=stimulus_png(1023, 577), title="t")
    assert png_size(data) == (1023, 577)
    transparent = render_heatmap_png(session_heatmap(s, screen_size_px=(1280, 720)))
    with Image.open(io.BytesIO(transparent)) as im:
        assert im.size == (1280, 720) and im.mode == "RGBA"
        assert im.getpixel((5, 715))[3] == 0  # nobody looked there: fully transparent
    fixes = [Fixation(0, 200, 200, 300, 200, 5, 3, 0, 4), Fixation(250, 450, 200, 1200, 700, 5, 3, 5, 9)]
    aois = [AOI.rect("a", 100, 100, 300, 200), AOI.polygon("p", [(900, 500), (1200, 500), (1000, 700)])]
    assert png_size(render_scanpath_png(fixes, size_px=(1280, 720), aois=aois)) == (1280, 720)
    assert png_size(render_heatmap_png(g, aois=aois)) == (1023, 577)
    assert png_size(render_scanpath_png([], size_px=(2400, 1200))) == (1920, 960)  # capped at 1920
    assert png_size(render_gaze_trail_png(s, size_px=(1280, 720), stimulus_image=stimulus_png(64, 36))) == (
        1280,
        720,
    )


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


def test_bad_stimulus_and_sizes(make_sample):
    g = session_heatmap([make_sample(0, 1, 1)], screen_size_px=(100, 100))
    with pytest.raises(FrameDecodeError):
        render_heatmap_png(g, stimulus_image=b"not an image")
    with pytest.raises(FrameDecodeError):
        render_heatmap_png(g, stimulus_image=b"")
    with pytest.raises(ValidationError):
        render_scanpath_png([], size_px=(0, 10))
    with pytest.raises(ValidationError, match="source"):
        session_heatmap([], screen_size_px=(10, 10), source="nope")  # type: ignore[arg-type]
