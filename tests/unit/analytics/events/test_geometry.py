"""Screen geometry: pixels and degrees of visual angle, built from a session dict."""

from __future__ import annotations

import math

import pytest

from gazescope.analytics.events import ScreenGeometry
from gazescope.errors import ValidationError


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        pytest.param({"screen_w_px": 1920, "screen_w_cm": 53.0, "distance_cm": 60}, (1920.0, 53.0, 60.0), id="full"),
        pytest.param({"screen_w_px": 1920, "screen_w_cm": None, "distance_cm": 60}, None, id="missing-size"),
        pytest.param({}, None, id="empty"),
        pytest.param(None, None, id="none"),
    ],
)  # fmt: skip
def test_from_mapping(d, expected):
    g = ScreenGeometry.from_mapping(d)
    assert (None if g is None else (g.screen_w_px, g.screen_w_cm, g.distance_cm)) == expected


def test_degrees_and_pixels_are_inverse():
    g = ScreenGeometry(1920, 53.0, 60.0)
    assert g.deg_from_px(g.px_from_deg(2.5)) == pytest.approx(2.5)
    assert g.px_from_deg(1.0) == pytest.approx(1920 / 53.0 * 120 * math.tan(math.radians(0.5)))


@pytest.mark.parametrize("bad", [pytest.param(0, id="zero"), pytest.param(-1.0, id="negative"),
                                 pytest.param(math.inf, id="infinite")])  # fmt: skip
def test_non_positive_sizes_are_refused(bad):
    with pytest.raises(ValidationError, match="distance_cm"):
        ScreenGeometry(1920, 53.0, bad)
