"""``gazescope.Tracker`` on real frames of the desk video: typed samples, clocks, errors, close."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import gazescope
from gazescope.domain import GazeSample
from gazescope.errors import GazescopeError, ValidationError


def frames(video, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    out = []
    while len(out) < n:
        ok, f = cap.read()
        assert ok
        out.append(f)
    cap.release()
    return out


def test_bgr_frames_give_typed_samples_at_the_frame_rate(desk_video) -> None:
    with gazescope.Tracker(fps=30) as tracker:
        samples = [tracker.process(f) for f in frames(desk_video, 20)]
    assert all(isinstance(s, GazeSample) for s in samples)
    assert [s.frame_index for s in samples] == list(range(20))
    assert samples[-1].t_ms == pytest.approx(19 * 1000 / 30)
    assert all(s.face_detected for s in samples)
    s = samples[-1]
    assert s.pupil_left_px is not None and 320 < s.pupil_left_px[0] < 640  # subject's left: image right
    assert s.pupil_right_px is not None and s.pupil_right_px[0] < s.pupil_left_px[0]
    assert 0.0 <= s.horizontal_ratio <= 1.0 and 0.0 <= s.vertical_ratio <= 1.0
    assert s.screen_x_px is None  # not calibrated


def test_rgb_input_matches_bgr_and_explicit_timestamps_are_kept(desk_video) -> None:
    f = frames(desk_video, 1)[0]
    with gazescope.Tracker(static=True) as a, gazescope.Tracker(static=True) as b:
        sa = a.process(f, t_ms=5.0)
        sb = b.process(cv2.cvtColor(f, cv2.COLOR_BGR2RGB), t_ms=5.0, rgb=True)
    assert sa.t_ms == sb.t_ms == 5.0
    assert sa.pupil_left_px == sb.pupil_left_px


def test_without_fps_the_monotonic_clock_counts(desk_video) -> None:
    f = frames(desk_video, 1)[0]
    with gazescope.Tracker() as tracker:
        t = [tracker.process(f).t_ms for _ in range(3)]
    assert t[0] == 0.0 and t[0] < t[1] < t[2]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param([[0, 0, 0]], id="list"),
        pytest.param(np.zeros((8, 8, 3), np.float32), id="float"),
        pytest.param(np.zeros((8, 8, 2), np.uint8), id="two-channels"),
        pytest.param(np.zeros((0, 8, 3), np.uint8), id="empty"),
    ],
)
def test_a_bad_frame_is_refused_with_the_reason(bad) -> None:
    with gazescope.Tracker() as tracker:
        with pytest.raises(ValidationError, match="frame"):
            tracker.process(bad)
        assert tracker.frames == 0


def test_time_going_back_is_refused_and_a_closed_tracker_says_so(desk_video) -> None:
    f = frames(desk_video, 1)[0]
    tracker = gazescope.Tracker()
    tracker.process(f, t_ms=100.0)
    with pytest.raises(ValidationError, match="back in time"):
        tracker.process(f, t_ms=50.0)
    tracker.close()
    tracker.close()
    with pytest.raises(GazescopeError, match="closed"):
        tracker.process(f)


def test_blinks_of_the_desk_video_are_events(desk_video) -> None:
    cap = cv2.VideoCapture(str(desk_video))
    with gazescope.Tracker(fps=30) as tracker:
        while True:
            ok, f = cap.read()
            if not ok:
                break
            last = tracker.process(f)
        blinks = tracker.blink_events
    # 3 blinks: the squint at frames 716-734 (open eyes narrowed, looked at) is no longer counted (issue 18)
    assert len(blinks) == last.blink_count == 3
    assert all(b.end_ms > b.start_ms for b in blinks)
