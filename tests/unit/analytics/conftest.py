"""Synthetic gaze samples with hand-known events, shared by the analytics tests."""

from __future__ import annotations

from typing import Any

import pytest


def sample(t_ms: float, x: float | None, y: float | None, **kw: Any) -> dict[str, Any]:
    """A sample dict shaped like ``GazeSample.to_dict()`` with a screen point (or None)."""
    d: dict[str, Any] = {
        "t_ms": float(t_ms),
        "frame_index": kw.pop("frame_index", int(t_ms // 50)),
        "face_detected": True,
        "face_count": 1,
        "confidence": 0.9,
        "screen_x_px": x,
        "screen_y_px": y,
        "on_screen": None if x is None else True,
        "is_blinking": False,
        "blink_count": 0,
        "attention_state": "focused",
        "attention_score": 0.9,
        "eye_contact": True,
        "eye_contact_pct": 100.0,
        "ear_left": 0.3,
        "ear_right": 0.3,
        "horizontal_ratio": 0.5,
        "vertical_ratio": 0.5,
        "yaw_deg": 0.0,
        "pitch_deg": 0.0,
        "roll_deg": 0.0,
        "gaze_vector": [0.0, 0.0],
        "perclos": 0.05,
        "blink_rate_per_min": 15.0,
        "processing_ms": 20.0,
        "dropped_frames": 0,
    }
    d.update(kw)
    return d


def scene() -> list[dict[str, Any]]:
    """20 Hz (50 ms) samples with four hand-computed I-DT fixations (dispersion 50 px, 100 ms):

    * F1 samples 0-5, t 0-250 ms, jitter around (100, 100): centroid (100, 100), dispersion 4 + 6 = 10;
    * F2 samples 6-9, t 300-450 ms at (500, 300);
    * sample 10 is a blink (gap); samples 11-12 at (500, 300) last 50 ms (< 100 ms, no fixation);
    * F3 samples 13-16, t 650-800 ms at (800, 600);
    * sample 17 has no face (gap); F4 samples 18-21, t 900-1050 ms at (800, 600).
    Only F1 -> F2 is a saccade (amplitude hypot(400, 200), peak velocity hypot(400, 200) / 0.05 s).
    """
    xs = [98, 102, 100, 101, 99, 100]
    ys = [100, 100, 103, 97, 100, 100]
    s = [sample(50 * i, xs[i], ys[i]) for i in range(6)]
    s += [sample(50 * i, 500, 300) for i in range(6, 10)]
    s += [sample(500, 500, 300, is_blinking=True, attention_state="focused")]
    s += [sample(50 * i, 500, 300) for i in range(11, 13)]
    s += [sample(50 * i, 800, 600) for i in range(13, 17)]
    s += [
        sample(
            850,
            None,
            None,
            face_detected=False,
            attention_state="absent",
            attention_score=0.0,
            eye_contact=False,
            ear_left=None,
            ear_right=None,
        )
    ]
    s += [sample(50 * i, 800, 600) for i in range(18, 22)]
    return s


@pytest.fixture
def scene_samples() -> list[dict[str, Any]]:
    return scene()


@pytest.fixture
def make_sample():
    """The :func:`sample` factory."""
    return sample


def still_samples(spots: list[tuple[float, float, int]], t0: float = 0.0) -> list[dict[str, Any]]:
    """Samples at 50 ms holding still ``n`` samples at each (x, y, n) of ``spots``."""
    out, t = [], t0
    for x, y, n in spots:
        for _ in range(n):
            out.append(sample(t, x, y))
            t += 50
    return out


@pytest.fixture
def fixation_samples():
    """The :func:`still_samples` factory."""
    return still_samples


STATES = ["focused"] * 6 + ["looking_away"] * 2 + ["absent"] * 2

SCORES = [0.9, 0.9, 0.8, 0.8, 0.7, 0.7, 0.4, 0.4, 0.0, 0.0]

BLINKS = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]


@pytest.fixture
def video_samples(make_sample):
    """10 uncalibrated frames at 10 Hz: 6 focused, 2 looking away, 2 absent; 2 blinks completed."""
    out = []
    for i in range(10):
        absent = STATES[i] == "absent"
        out.append(
            make_sample(
                100 * i, None, None, frame_index=i, attention_state=STATES[i], attention_score=SCORES[i],
                eye_contact=i < 6, blink_count=BLINKS[i], is_blinking=i in (2, 6), processing_ms=10.0 * (i + 1),
                face_detected=not absent, perclos=0.1 if not absent else None, dropped_frames=i // 5,
            )
        )  # fmt: skip
    return out
