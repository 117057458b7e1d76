"""Sample dicts to arrays, and client gaze points to samples."""

from __future__ import annotations

import numpy as np
import pytest

from gazescope.analytics.activity import label_arrays, label_samples
from gazescope.analytics.aoi import aoi_metrics
from gazescope.analytics.events import (
    EventParams,
    detect_events,
    detect_fixations,
    events_of_arrays,
    gaze_points_to_samples,
)
from gazescope.analytics.samples import gaze_arrays, segment_ids, session_arrays
from gazescope.errors import ValidationError


@pytest.mark.parametrize(
    ("valid", "t_ms", "expected"),
    [
        pytest.param([1, 1, 0, 1], [0, 50, 100, 150], [0, 0, -1, 1], id="invalid-splits"),
        pytest.param([1, 1, 1], [0, 50, 300], [0, 0, 1], id="gap-splits"),
        pytest.param([0, 0], [0, 50], [-1, -1], id="all-invalid"),
    ],
)
def test_segment_ids(valid, t_ms, expected):
    assert segment_ids(np.array(valid, dtype=bool), np.array(t_ms, dtype=float), 200.0).tolist() == expected


def test_positions_are_nan_where_gaze_is_not_valid(make_sample):
    s = [make_sample(0, 10, 20), make_sample(50, 30, 40, is_blinking=True)]
    pos = gaze_arrays(s).positions_px
    assert pos.shape == (2, 2) and pos[0].tolist() == [10, 20] and np.isnan(pos[1]).all()


def test_client_points_feed_the_same_analytics():
    pts = [{"t_ms": 50 * i, "x_px": 100 + (i % 2), "y_px": 200} for i in range(6)]
    pts += [{"t_ms": 300 + 50 * i, "x_px": 900, "y_px": 500} for i in range(4)]
    pts.reverse()  # unordered on arrival
    s = gaze_points_to_samples(pts, screen_w_px=1280, screen_h_px=720)
    assert [p["t_ms"] for p in s] == sorted(p["t_ms"] for p in pts)
    fix = detect_fixations(s, params=EventParams(threshold_px=50))
    assert [(f.start_ms, f.end_ms) for f in fix] == [(0, 250), (300, 450)]
    assert fix[0].x_px == pytest.approx(100.5)
    off = gaze_points_to_samples([{"t_ms": 0, "x_px": 2000, "y_px": 5}], screen_w_px=1280, screen_h_px=720)
    assert off[0]["on_screen"] is False


def test_session_arrays_read_every_column_a_report_needs(scene_samples):
    scene_samples[3].update(attention_state=None, eye_contact=False, perclos=None, dropped_frames=4)
    a = session_arrays(scene_samples)
    assert len(a) == len(scene_samples) == len(a.attention_state)
    assert np.array_equal(a.t_ms, [s["t_ms"] for s in scene_samples])
    assert a.attention_state[3] == "absent" and a.attention_state[0] == "focused"
    assert not a.eye_contact[3] and a.eye_contact[0]
    assert np.isnan(a.perclos[3]) and a.perclos[0] == pytest.approx(0.05)
    assert np.nanmax(a.dropped_frames) == 4
    assert a.blinks.blinking[10] and not a.face[17] and a.calibrated[0] and not a.calibrated[17]
    assert np.array_equal(a.gaze.valid, gaze_arrays(scene_samples).valid)


def test_session_arrays_time_untimed_samples_by_frame_and_refuse_none():
    untimed = [{"frame_index": i, "screen_x_px": 10.0, "screen_y_px": 10.0} for i in range(4)]
    assert np.allclose(session_arrays(untimed, fps_hint=20).t_ms, [0, 50, 100, 150])
    with pytest.raises(ValidationError):
        session_arrays(untimed)
    with pytest.raises(ValidationError):
        session_arrays([])


def test_the_array_paths_find_what_the_dict_paths_find(scene_samples):
    a = session_arrays(scene_samples)
    by_dict = detect_events(scene_samples, method="ivt")
    assert events_of_arrays(a.gaze, a.blinks, method="ivt") == by_dict
    assert label_arrays(a)[0] == label_samples(scene_samples)[0]
    aois = [{"name": "a", "x_px": 0, "y_px": 0, "w_px": 600, "h_px": 400}]
    fix = list(by_dict.fixations)
    assert aoi_metrics(aois, fix, gaze=a.gaze) == aoi_metrics(aois, fix, samples=scene_samples)
