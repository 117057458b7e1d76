"""Extra views of a frame (zoomed, mirrored) averaged into the calibration features."""

from __future__ import annotations

import numpy as np
import pytest

from gazescope.calibration.features import analyze_views, extract_features, zoom_views
from gazescope.domain import FrameFeatures
from gazescope.errors import ValidationError


def test_views_are_averaged_per_eye(make_ff) -> None:
    base = make_ff(0.04, -0.02)
    # a direct view with the iris further left and a mirrored view of a symmetric face
    g = extract_features(base, views=[(make_ff(0.08, 0.0), False), (make_ff(-0.06, -0.04), True)])
    assert g is not None
    assert g.iris_x == pytest.approx((0.04 + 0.08 + 0.06) / 3, abs=1e-4)
    assert g.iris_y == pytest.approx((-0.02 + 0.0 - 0.04) / 3, abs=1e-4)
    # a view without a face is ignored; the plain mirrored= argument still works alongside views
    none = FrameFeatures(face_detected=False, face_count=0, image_size=(640, 480))
    g2 = extract_features(base, mirrored=make_ff(-0.04, -0.02), views=[(none, False)])
    assert g2 is not None and g2.iris_x == pytest.approx(0.04, abs=1e-4)


def test_zoom_views_keep_the_size_and_the_centre() -> None:
    img = np.zeros((48, 64, 3), dtype=np.uint8)
    img[22:26, 30:34] = 255  # a bright square at the centre
    zoomed = zoom_views(img, (0.9, 1.0, 1.5))
    assert [z.shape for z in zoomed] == [img.shape] * 3
    assert np.array_equal(zoomed[1], img)
    for z in zoomed:
        ys, xs = np.nonzero(z[:, :, 0] > 127)
        assert ys.mean() == pytest.approx(23.5, abs=0.6) and xs.mean() == pytest.approx(31.5, abs=0.6)
    assert (zoomed[2][:, :, 0] > 127).sum() > (img[:, :, 0] > 127).sum()  # zoom 1.5 enlarges it
    with pytest.raises(ValidationError):
        zoom_views(img, (3.0,))
    with pytest.raises(ValidationError):
        zoom_views(img[:, :, 0], (1.1,))


def test_analyze_views_runs_each_view(make_ff) -> None:
    seen: list[tuple[int, int]] = []

    def analyze(rgb: np.ndarray) -> FrameFeatures:
        seen.append(rgb.shape[:2])
        return make_ff(0.0, 0.0)

    img = np.zeros((48, 64, 3), dtype=np.uint8)
    ff, views = analyze_views(analyze, img, mirror=True, zooms=(0.9, 1.1))
    assert len(seen) == 6 and len(views) == 5
    assert [m for _, m in views] == [True, False, True, False, True]
    _, views1 = analyze_views(analyze, img, mirror=False, zooms=(1.1,))
    assert [m for _, m in views1] == [False]
    assert extract_features(ff, views=views) is not None
