"""Blink events as runs of blinking samples."""

from __future__ import annotations

import numpy as np
import pytest

from gazescope.analytics.events import detect_blinks
from gazescope.analytics.events.blinks import blinks


@pytest.mark.parametrize(
    ("blinking", "runs"),
    [
        pytest.param([], [], id="empty"),
        pytest.param([0, 0, 0], [], id="none"),
        pytest.param([1, 1, 0, 1], [(0, 1), (3, 3)], id="at-both-ends"),
        pytest.param([0, 1, 1, 1, 0], [(1, 3)], id="one-run"),
    ],
)
def test_blinks_on_arrays(blinking, runs):
    t = 10.0 * np.arange(len(blinking))
    ev = blinks(np.array(blinking, dtype=bool), t)
    assert [(e.start_frame, e.end_frame) for e in ev] == runs
    assert [(e.start_ms, e.end_ms) for e in ev] == [(10.0 * a, 10.0 * b) for a, b in runs]
    assert all(np.isnan(e.min_ear) for e in ev)


def test_blinks_from_runs(make_sample):
    s = [make_sample(50 * i, 1, 1) for i in range(8)]
    for i, ear in ((2, 0.2), (3, 0.1), (6, 0.15)):
        s[i].update(is_blinking=True, ear_left=ear, ear_right=ear + 0.02)
    b = detect_blinks(s)
    assert [(e.start_ms, e.end_ms, e.start_frame, e.end_frame) for e in b] == [
        (100, 150, 2, 3),
        (300, 300, 6, 6),
    ]
    assert b[0].min_ear == pytest.approx(0.11) and b[1].duration_ms == 0
