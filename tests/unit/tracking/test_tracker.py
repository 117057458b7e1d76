"""GazeTracker: attention states, rolling figures, gaze held through blinks, calibrated screen points."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gazescope.config import Settings
from gazescope.domain import AttentionState, EyeState, FrameFeatures, HeadPose
from gazescope.tracking.tracker import GazeTracker

FPS = 30.0


def feat(*, ear=0.28, yaw=0.0, pitch=0.0, h=0.5, face=True, iris_drop=None) -> FrameFeatures:
    """One frame's features. A shut eye (``ear`` < 0.15) drags the iris landmarks down by 0.06 eye widths
    unless ``iris_drop`` says otherwise, as Face Mesh does with a lid over the iris."""
    if not face:
        return FrameFeatures(face_detected=False, face_count=0, image_size=(640, 480))
    drop = iris_drop if iris_drop is not None else (0.06 if ear < 0.15 else 0.0)
    eye = EyeState(ear, (300.0, 200.0), h, 0.5, h - 0.5, drop, 30.0, 0.3)
    return FrameFeatures(
        face_detected=True,
        face_count=1,
        image_size=(640, 480),
        confidence=1.0,
        right_eye=eye,
        left_eye=eye,
        head=HeadPose(yaw, pitch, 0.0, (0.0, 0.0, 600.0), 0.5),
        gaze_yaw_deg=yaw,
        gaze_pitch_deg=pitch,
    )


def run(tracker, frames, start=0):
    out = []
    for k, f in enumerate(frames):
        i = start + k
        out.append(tracker.update(f, i * 1000 / FPS, i))
    return out


def test_focused_then_looking_away_then_absent():
    tr = GazeTracker(Settings(looking_away_after_s=1.0))
    s = run(tr, [feat() for _ in range(60)])
    assert s[-1].attention_state == AttentionState.FOCUSED
    assert s[-1].eye_contact and s[-1].eye_contact_pct > 95
    assert s[-1].attention_score > 0.9
    s = run(tr, [feat(yaw=50.0) for _ in range(60)], start=60)
    assert s[10].attention_state == AttentionState.FOCUSED  # not yet a second away
    assert s[-1].attention_state == AttentionState.LOOKING_AWAY
    assert not s[-1].eye_contact and s[-1].attention_score < 0.5
    s = run(tr, [feat(face=False) for _ in range(45)], start=120)
    assert s[-1].attention_state == AttentionState.ABSENT
    assert not s[-1].face_detected and s[-1].gaze_vector is None


def test_a_long_closure_is_a_blink_then_lowered_lids_then_eyes_closed():
    tr = GazeTracker(Settings())
    run(tr, [feat() for _ in range(90)])
    s = run(tr, [feat(ear=0.05) for _ in range(75)], start=90)  # 2.5 s of lids over the iris
    assert s[5].is_blinking and s[5].attention_state == AttentionState.FOCUSED  # a blink so far
    # past lowered_lids_after_ms (0.4 s) it is no blink: lowered lids, a look down
    assert not s[14].is_blinking and s[14].attention_state == AttentionState.LOOKING_AWAY
    assert not s[36].is_blinking and s[36].attention_state == AttentionState.LOOKING_AWAY
    assert not s[36].eye_contact and s[36].attention_score < 0.5
    assert s[-1].is_blinking and s[-1].attention_state == AttentionState.EYES_CLOSED  # past 2 s
    assert s[-1].blink_count == 0  # 2.5 s shut is not a blink


def test_a_slow_blink_reads_as_lowered_lids_past_400_ms_and_still_counts():
    """A 0.6 s closure (a slow blink, or the first 0.6 s of a look down at a desk: TalkingFace frames
    227-245 look the same) is is_blinking up to lowered_lids_after_ms, then lowered lids; it reopens within
    blink_max_ms, so it is counted as a blink."""
    tr = GazeTracker(Settings())
    run(tr, [feat() for _ in range(90)])
    s = run(tr, [feat(ear=0.05) for _ in range(18)], start=90)
    assert s[6].is_blinking and s[6].attention_state == AttentionState.FOCUSED  # 0.2 s
    assert not s[15].is_blinking and s[15].attention_state == AttentionState.LOOKING_AWAY  # 0.5 s
    s = run(tr, [feat() for _ in range(30)], start=108)
    assert s[-1].blink_count == 1 and s[-1].attention_state == AttentionState.FOCUSED


def test_the_first_open_eyed_frame_seeds_the_neutral():
    """Regression (ZJU clip 8 frame 0, camera below the face): the first frame was judged against the
    camera axis before any neutral existed and was called looking_away."""
    s = run(GazeTracker(Settings()), [feat(yaw=-8.0, pitch=16.0) for _ in range(3)])
    assert s[0].attention_state == AttentionState.FOCUSED and s[0].eye_contact
    assert s[0].gaze_offset_deg == pytest.approx(0.0, abs=1e-6)


def test_near_eye_alone_reads_blinks_with_the_head_turned():
    def turned(ear_near: float, ear_far: float) -> FrameFeatures:
        f = feat()
        near = replace(f.left_eye, ear=ear_near, width_px=30.0)
        far = replace(f.right_eye, ear=ear_far, width_px=22.0, offset_y=0.12 if ear_far < 0.15 else 0.0)
        return replace(f, left_eye=near, right_eye=far, head=replace(f.head, yaw_deg=-35.0))

    tr = GazeTracker(Settings())
    run(tr, [turned(0.3, 0.3) for _ in range(60)])
    s = run(tr, [turned(0.3, 0.05) for _ in range(4)], start=60)  # the far eye dips, the near stays open
    assert not any(x.is_blinking for x in s)
    tr = GazeTracker(Settings(blink_near_eye_yaw_deg=90.0))  # both eyes' mean: the dip reads as a closure
    run(tr, [turned(0.3, 0.3) for _ in range(60)])
    s = run(tr, [turned(0.3, 0.05) for _ in range(4)], start=60)
    assert any(x.is_blinking for x in s)


def test_drowsy_from_perclos():
    tr = GazeTracker(Settings())
    frames = []
    for _ in range(20):  # 40 s: every 2 s the eyes are shut for 0.5 s, PERCLOS 0.25
        frames += [feat() for _ in range(45)] + [feat(ear=0.04) for _ in range(15)]
    s = run(tr, frames)
    assert s[-1].perclos > 0.15
    assert s[-1].attention_state == AttentionState.DROWSY
    assert s[-1].blink_count == 19  # the 20th closure is still open at the last frame
    assert s[-1].blink_rate_per_min == pytest.approx(30, abs=3)


def test_gaze_is_held_through_a_blink():
    tr = GazeTracker(Settings())
    run(tr, [feat(h=0.5) for _ in range(30)])
    s = run(tr, [feat(ear=0.04, h=0.9, yaw=20.0) for _ in range(6)], start=30)
    assert all(x.is_blinking for x in s[1:])
    assert s[-1].horizontal_ratio == pytest.approx(0.5, abs=0.02)
    assert s[-1].direction == "center"


def test_direction_follows_gaztracking_thresholds():
    tr = GazeTracker(Settings())
    assert run(tr, [feat(h=0.9) for _ in range(60)])[-1].direction == "left"
    tr = GazeTracker(Settings())
    assert run(tr, [feat(h=0.1) for _ in range(60)])[-1].direction == "right"


class FixedMapper:
    screen_w_px = 1920
    screen_h_px = 1080

    def __init__(self, point):
        self.point = point

    def predict_screen(self, ff, image_rgb=None, *, clip=True):
        if clip:
            return (
                min(max(self.point[0], 0), self.screen_w_px),
                min(max(self.point[1], 0), self.screen_h_px),
            )
        return self.point

    def head_in_range(self, ff):
        return abs(ff.head.yaw_deg) < 20


def test_calibrated_samples_carry_screen_points():
    tr = GazeTracker(Settings(), calibration=FixedMapper((960.0, 540.0)))
    s = run(tr, [feat() for _ in range(10)])[-1]
    assert s.screen_x_px == pytest.approx(960.0) and s.screen_y_px == pytest.approx(540.0)
    assert s.on_screen is True and s.head_in_range is True
    tr.set_calibration(FixedMapper((2500.0, 540.0)))  # 580 px right of a 1920 px screen
    s = run(tr, [feat(yaw=30.0) for _ in range(10)], start=10)[-1]
    assert s.on_screen is False and s.head_in_range is False
    assert s.screen_x_px == pytest.approx(1919.0)  # the dot stays on the screen's edge
    tr.set_calibration(FixedMapper((1950.0, 540.0)))  # just past the edge: within the error margin
    assert run(tr, [feat() for _ in range(5)], start=20)[-1].on_screen is True
    uncal = run(GazeTracker(Settings()), [feat()])[-1]
    assert uncal.screen_x_px is None and uncal.on_screen is None


def test_calibrated_samples_keep_the_horizontal_ratio_a_ratio():
    """Regression: the screen height once overwrote ``horizontal_ratio`` of every calibrated sample."""
    tr = GazeTracker(Settings(), calibration=FixedMapper((960.0, 540.0)))
    for s in run(tr, [feat(h=0.3) for _ in range(10)]):
        assert s.horizontal_ratio is not None and 0.0 <= s.horizontal_ratio <= 1.0
        assert s.horizontal_ratio == pytest.approx(0.3, abs=0.05)
        assert s.screen_x_px is not None


def test_sample_dict_round_trip():
    from gazescope.domain import GazeSample

    s = run(GazeTracker(Settings()), [feat() for _ in range(3)])[-1]
    d = s.to_dict()
    assert d["gaze_vector"] == [0.0, 0.0] and isinstance(d["pupil_left_px"], list)
    assert GazeSample.from_dict(d).to_dict() == d
    assert GazeSample.from_dict(d).t_ms == pytest.approx(s.t_ms)


class NoisyMapper(FixedMapper):
    """A calibration whose prediction jitters by 40 px around the screen centre."""

    def __init__(self):
        super().__init__((960.0, 540.0))
        self.rng = np.random.default_rng(0)

    def predict_screen(self, ff, image_rgb=None, *, clip=True):
        return (960.0 + self.rng.normal(0, 40), 540.0 + self.rng.normal(0, 40))


def test_the_on_screen_dot_is_smoothed():
    tr = GazeTracker(Settings(), calibration=NoisyMapper())
    xs = np.array([s.screen_x_px for s in run(tr, [feat() for _ in range(150)])][30:])
    assert xs.std() < 40 * 0.6  # One Euro at rest removes much of the jitter


def test_a_glance_is_looking_away_at_once_and_ends_at_once():
    """Glances at a phone or a second screen last 0.3-1.5 s: the default state follows them frame by frame
    (hysteresis, not a dwell, keeps noise from flickering it)."""
    tr = GazeTracker(Settings())
    run(tr, [feat() for _ in range(60)])
    s = run(tr, [feat(yaw=40.0) for _ in range(9)], start=60)  # 0.3 s glance
    assert all(x.attention_state == AttentionState.LOOKING_AWAY for x in s)
    assert all(not x.eye_contact and x.attention_score < 0.5 for x in s)
    s = run(tr, [feat() for _ in range(3)], start=69)
    assert s[-1].attention_state == AttentionState.FOCUSED and s[-1].eye_contact


def test_the_neutral_gaze_absorbs_a_personal_bias():
    """A person whose gaze reads 12 degrees off while they face the device is in eye contact; 30 degrees
    beyond that is looking away."""
    tr = GazeTracker(Settings())
    s = run(tr, [feat(yaw=12.0, pitch=8.0) for _ in range(60)])
    assert s[-1].eye_contact and s[-1].attention_state == AttentionState.FOCUSED
    assert tr.neutral.yaw_deg == pytest.approx(12.0, abs=0.5)
    s = run(tr, [feat(yaw=42.0, pitch=8.0) for _ in range(10)], start=60)
    assert s[-1].attention_state == AttentionState.LOOKING_AWAY


def test_the_neutral_stays_near_the_camera():
    """Someone who looks 50 degrees aside all the time does not make that their neutral."""
    tr = GazeTracker(Settings())
    s = run(tr, [feat(yaw=50.0) for _ in range(300)])
    assert abs(tr.neutral.yaw_deg) <= Settings().attention_neutral_max_deg + 1e-6
    assert s[-1].attention_state == AttentionState.LOOKING_AWAY


def test_lids_lowered_over_a_visible_iris_are_not_closed_eyes():
    """Looking down at a desk narrows the eyes like a slow blink, but the iris stays in view (Face Mesh's
    iris does not drop with the lid): not is_blinking, not eyes_closed, and the gaze pitch goes down."""
    tr = GazeTracker(Settings())
    run(tr, [feat() for _ in range(90)])
    s = run(tr, [feat(ear=0.12, iris_drop=0.0) for _ in range(45)], start=90)
    assert not any(x.is_blinking for x in s)
    assert s[-1].attention_state == AttentionState.LOOKING_AWAY
    s = run(tr, [feat(ear=0.05) for _ in range(45)], start=135)  # shut: the iris drops with the lid
    # one closure 1.5 s old already (past blink_max_ms): still lowered lids, closed eyes once 2 s long
    assert not s[5].is_blinking and s[5].attention_state == AttentionState.LOOKING_AWAY
    assert s[-1].is_blinking and s[-1].attention_state == AttentionState.EYES_CLOSED


def test_the_score_never_contradicts_the_state():
    tr = GazeTracker(Settings())
    frames = (
        [feat(face=False) for _ in range(10)]
        + [feat() for _ in range(30)]
        + [feat(yaw=45.0) for _ in range(30)]
        + [feat() for _ in range(30)]
        + [feat(ear=0.05) for _ in range(40)]
        + [feat() for _ in range(30)]
    )
    for s in run(tr, frames):
        if s.attention_state == AttentionState.FOCUSED:
            assert s.attention_score >= 0.5
        elif s.attention_state == AttentionState.ABSENT:
            assert s.attention_score == 0.0
        else:
            assert s.attention_score < 0.5


def test_the_first_frame_with_a_face_is_scored_as_its_state():
    """Regression: the score started at 0.00 beside 'focused' and took about 4 s to rise."""
    s = run(GazeTracker(Settings()), [feat() for _ in range(3)])
    assert s[0].attention_state == AttentionState.FOCUSED and s[0].attention_score > 0.9
