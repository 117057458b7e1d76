"""The scanpath figure: PNG sizes (capped), AOIs, bad sizes."""

from __future__ import annotations

import pytest

from gazescope.analytics.aoi import AOI
from gazescope.analytics.events import Fixation
from gazescope.analytics.plots.scanpath import render_scanpath_png
from gazescope.errors import ValidationError


def test_scanpath_png_sizes(png):
    fixes = [Fixation(0, 200, 200, 300, 200, 5, 3, 0, 4), Fixation(250, 450, 200, 1200, 700, 5, 3, 5, 9)]
    aois = [AOI.rect("a", 100, 100, 300, 200), AOI.polygon("p", [(900, 500), (1200, 500), (1000, 700)])]
    assert png.size(render_scanpath_png(fixes, size_px=(1280, 720), aois=aois)) == (1280, 720)
    assert png.size(render_scanpath_png([], size_px=(2400, 1200))) == (1920, 960)  # capped at 1920


def test_bad_size():
    with pytest.raises(ValidationError):
        render_scanpath_png([], size_px=(0, 10))
