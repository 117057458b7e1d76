"""The gaze-trail figure."""

from __future__ import annotations

from gazescope.analytics.plots.gaze_trail import render_gaze_trail_png


def test_gaze_trail_png_has_the_drawing_size_on_any_stimulus(fixation_samples, png):
    s = fixation_samples([(300, 200, 6), (1200, 700, 10)])
    assert png.size(render_gaze_trail_png(s, size_px=(1280, 720), stimulus_image=png.stimulus(64, 36))) == (
        1280,
        720,
    )
