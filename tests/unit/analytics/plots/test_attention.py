"""The attention figure (state, activity and eye-contact bands above head and gaze angles)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gazescope.analytics.plots.attention import ACTIVITY_COLOURS, render_attention_png
from gazescope.analytics.plots.timeline import STATE_COLOURS
from gazescope.errors import ValidationError


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def test_size_and_that_each_band_is_drawn_in_its_colour(video_samples):
    labels = ["reading"] * 6 + ["looking_away"] * 2 + ["absent"] * 2
    png = render_attention_png(video_samples, labels, looking_away_deg=30.0, width_px=800)
    with Image.open(io.BytesIO(png)) as im:
        assert im.size == (800, 400)
        colours = {c for _, c in im.convert("RGB").getcolors(800 * 400)}
    for c in (STATE_COLOURS["focused"], STATE_COLOURS["looking_away"], ACTIVITY_COLOURS["reading"]):
        assert _rgb(c) in colours, c


def test_angles_off_the_camera_axis(make_sample):
    from gazescope.analytics.samples import angle_arrays

    s = [make_sample(0, None, None, gaze_yaw_deg=30.0, gaze_pitch_deg=0.0),
         make_sample(50, None, None, gaze_yaw_deg=-20.0, gaze_pitch_deg=20.0),
         make_sample(100, None, None, gaze_yaw_deg=None)]  # fmt: skip
    a = angle_arrays(s).off_axis_deg
    assert a[0] == pytest.approx(30.0)
    assert a[1] == pytest.approx(np.degrees(np.arccos(np.cos(np.radians(20.0)) ** 2)))
    assert np.isnan(a[2])


def test_empty_and_bad_arguments(video_samples):
    with Image.open(io.BytesIO(render_attention_png([]))) as im:
        assert im.size == (1200, 600)
    with pytest.raises(ValidationError):
        render_attention_png(video_samples, ["reading"])
    with pytest.raises(ValidationError):
        render_attention_png(video_samples, width_px=100)
