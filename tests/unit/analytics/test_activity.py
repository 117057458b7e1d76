"""Activity recognition (analytics.activity) on gaze sequences whose activity is known by construction,
and on a recorded one (the desk video: a person looking around a room, never reading)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from gazescope.analytics.activity import (
    Activity,
    activity_inputs,
    classify_activity,
    classify_latest,
    label_samples,
    sample_activities,
)
from gazescope.config import ActivitySettings
from gazescope.errors import ValidationError

FPS = 30.0


def _times(seconds: float) -> np.ndarray:
    return np.arange(0.0, seconds * 1000.0, 1000.0 / FPS)


def reading(seconds: float = 30.0, *, seed: int = 0, noise_deg: float = 0.2, step_deg: float = 2.0):
    """Left-to-right steps of ``step_deg`` every 250 ms, a return sweep (and a line 0.8 deg lower) after
    every 10 steps, with Gaussian noise: (t_ms, x_deg, y_deg)."""
    rng = np.random.default_rng(seed)
    t = _times(seconds)
    k = (t // 250).astype(int)
    line, pos = k // 11, k % 11  # 11 fixations a line: 10 steps, then the sweep back
    x = -10.0 + step_deg * pos + rng.normal(0, noise_deg, len(t))
    y = 0.8 * line + rng.normal(0, noise_deg, len(t))
    return t, x, y


def jumps(
    seconds: float, *, seed: int, amplitude_deg: float, hold_ms: tuple[float, float], noise_deg: float = 0.2
):
    """Fixations at uniformly random places within +-``amplitude_deg``, each held ``hold_ms`` (range)."""
    rng = np.random.default_rng(seed)
    t = _times(seconds)
    x, y = np.empty_like(t), np.empty_like(t)
    nxt, cur = -1.0, (0.0, 0.0)
    for i, ti in enumerate(t):
        if ti >= nxt:
            cur = (
                rng.uniform(-amplitude_deg, amplitude_deg),
                rng.uniform(-amplitude_deg, amplitude_deg) * 0.6,
            )
            nxt = ti + rng.uniform(*hold_ms)
        x[i], y[i] = cur
    return t, x + rng.normal(0, noise_deg, len(t)), y + rng.normal(0, noise_deg, len(t))


def scanning(seconds: float = 30.0, seed: int = 1):
    return jumps(seconds, seed=seed, amplitude_deg=15.0, hold_ms=(200.0, 400.0))


def idle(seconds: float = 30.0, seed: int = 2):
    return jumps(seconds, seed=seed, amplitude_deg=5.0, hold_ms=(2500.0, 4000.0))


def shares(result) -> Counter:
    return Counter(w.activity for w in result.windows)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(reading, Activity.READING, id="reading"),
        pytest.param(scanning, Activity.SCANNING, id="scanning"),
        pytest.param(idle, Activity.IDLE, id="idle"),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_constructed_sequences_are_recognised(make, expected, seed):
    t, x, y = make(seed=seed)
    result = classify_activity(t, x, y)
    assert len(result.windows) == 30
    assert shares(result)[expected] >= 0.9 * len(result.windows), shares(result)


def test_reading_from_the_horizontal_angle_alone():
    t, x, _ = reading(seed=3)
    assert shares(classify_activity(t, x, None))[Activity.READING] >= 27
    _, sx, _ = scanning(seed=3)
    assert shares(classify_activity(t, sx, None))[Activity.READING] <= 3


def test_reading_needs_return_sweeps_and_forward_steps():
    t, x, y = reading(seed=4)
    backwards = classify_activity(t, -x, y)  # right to left: sweeps become forward-sized jumps rightward
    assert shares(backwards)[Activity.READING] == 0
    no_sweeps = classify_activity(t, np.cumsum(np.r_[0.0, np.diff(np.floor(t / 250.0))]) * 2.0, y)
    assert shares(no_sweeps)[Activity.READING] == 0  # steps without a return sweep: not reading
    window = classify_activity(t, x, y).windows[10]
    assert window.counts.returns >= 1 and window.counts.forward >= 10
    assert 3.0 <= window.counts.saccade_rate_hz <= 4.5  # 4 fixations a second, less the sweeps' time


def test_windows_without_gaze_have_no_activity_and_labels_keep_attention_states():
    t, x, y = reading(seed=5)
    x = x.copy()
    x[(t >= 10_000) & (t < 20_000)] = np.nan
    result = classify_activity(t, x, y)
    mid = [w for w in result.windows if 12_000 <= w.start_ms < 17_000]
    assert mid and all(w.activity is None for w in mid)
    states = ["focused", "looking_away", "focused", "absent"]
    acts = [Activity.READING, Activity.READING, None, None]
    assert sample_activities(states, acts) == ["reading", "looking_away", "focused", "absent"]
    with pytest.raises(ValidationError):
        sample_activities(states, acts[:2])


def test_the_latest_window_is_causal():
    t, x, y = reading(seed=6)
    cut = t <= 12_000
    w = classify_latest(t[cut], x[cut], y[cut])
    assert w.activity is Activity.READING and w.end_ms == pytest.approx(t[cut][-1], abs=1e-3)
    assert w.start_ms >= 12_000 - 5_000 - 1e-6
    # what comes after the last sample cannot change it
    assert classify_latest(t[cut], x[cut], y[cut]) == w
    st, sx, sy = scanning(seed=6)
    assert (
        classify_latest(st[: len(t[cut])], sx[: len(t[cut])], sy[: len(t[cut])]).activity is Activity.SCANNING
    )
    assert classify_latest([], [], None).activity is None


def test_thresholds_come_from_settings():
    t, x, y = reading(seed=7)
    strict = ActivitySettings(activity_reading_min_returns=5)  # a 5 s window holds about two sweeps
    assert shares(classify_activity(t, x, y, settings=strict))[Activity.READING] == 0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        pytest.param(([0.0, 1.0], [0.0]), "one length", id="lengths"),
        pytest.param(([1.0, 0.0], [0.0, 0.0]), "non-decreasing", id="decreasing"),
        pytest.param(([0.0, np.nan], [0.0, 0.0]), "non-decreasing", id="nan-time"),
    ],
)
def test_bad_input_is_a_validation_error(args, match):
    with pytest.raises(ValidationError, match=match):
        classify_activity(*args)


def _sample(t_ms, **kw):
    d = {"t_ms": t_ms, "face_detected": True, "is_blinking": False, "attention_state": "focused"}
    d.update(kw)
    return d


def test_inputs_prefer_calibrated_screen_gaze_and_fall_back_to_the_gaze_yaw():
    t, x, y = reading(seed=8)
    px = 37.8  # px per degree, the settings' default
    screen = [_sample(ti, screen_x_px=800 + xi * px, screen_y_px=400 + yi * px, on_screen=True,
                      gaze_yaw_deg=0.0) for ti, xi, yi in zip(t, x, y, strict=True)]  # fmt: skip
    inp = activity_inputs(screen)
    assert inp.source == "screen" and inp.y_deg is not None
    np.testing.assert_allclose(inp.x_deg - inp.x_deg[0], x - x[0], atol=1e-9)
    labels, result = label_samples(screen)
    assert result.source == "screen" and Counter(labels)["reading"] >= 0.9 * len(labels)
    # no screen gaze: the gaze yaw, negated (gaze_yaw_deg > 0 is the subject's left, the screen's left)
    yaw = [
        _sample(ti, gaze_yaw_deg=-xi, is_blinking=i % 50 == 0)
        for i, (ti, xi) in enumerate(zip(t, x, strict=True))
    ]
    inp = activity_inputs(yaw)
    assert inp.source == "gaze_yaw" and inp.y_deg is None
    assert np.isnan(inp.x_deg[0]) and inp.x_deg[1] == pytest.approx(x[1])
    labels, _ = label_samples(yaw)
    assert Counter(labels)["reading"] >= 0.9 * len(labels)
    mirrored = [{**s, "gaze_yaw_deg": -s["gaze_yaw_deg"]} for s in yaw]  # reading right to left
    assert Counter(label_samples(mirrored)[0])["reading"] == 0
    with pytest.raises(ValidationError):
        activity_inputs([{"face_detected": True}])


@pytest.fixture(scope="module")
def desk_samples(desk_video: Path) -> list[dict]:
    from gazescope.services.offline import analyze_video

    samples, _ = analyze_video(desk_video)
    return samples


def test_a_recorded_person_looking_around_a_room_is_not_reading(desk_samples):
    """The desk video (28 s, no text in view): the horizontal gaze angle makes large saccades and
    fixations, which must come out as scanning or idle, reading at most in stray windows."""
    labels, result = label_samples(desk_samples)
    assert result.source == "gaze_yaw"
    counts = Counter(w.activity for w in result.windows)
    assert counts[Activity.READING] <= 0.15 * len(result.windows), counts
    assert counts[Activity.SCANNING] + counts[Activity.IDLE] >= 0.7 * len(result.windows), counts
    assert set(labels) <= {
        "reading",
        "scanning",
        "idle",
        "focused",
        "looking_away",
        "eyes_closed",
        "drowsy",
        "absent",
    }


def test_live_activity_follows_the_stream_and_labels_a_stored_window():
    from gazescope.analytics.activity import LiveActivity

    t, x, _ = reading(12.0, seed=9)
    samples = [_sample(ti, gaze_yaw_deg=-xi) for ti, xi in zip(t, x, strict=True)]
    live = LiveActivity()
    labels = [live.update(s) for s in samples]
    assert labels[0] == "focused" and labels[-1] == "reading" and live.activity is Activity.READING
    assert live.label({**samples[-1], "attention_state": "absent"}) == "absent"
    assert LiveActivity().label_last(samples) == "reading"
    assert LiveActivity().label_last([]) is None
    # a clock that goes back starts a new window
    assert live.update(_sample(0.0, gaze_yaw_deg=0.0)) == "focused"  # nothing to classify yet
    assert len(live._buf) == 1
