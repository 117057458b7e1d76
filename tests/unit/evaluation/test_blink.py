"""Blink evaluation scoring: span matching, precision/recall/F1, typed results and their JSON."""

from __future__ import annotations

import pytest

from gazescope.evaluation.blink import BlinkEvaluation, BlinkScores, ClipResult, match_events, prf


@pytest.mark.parametrize(
    ("truth", "detected", "pairs"),
    [
        pytest.param([(0, 5)], [(4, 8)], [(0, 0)], id="overlap"),
        pytest.param([(0, 5)], [(6, 8)], [], id="apart"),
        pytest.param([(0, 5), (6, 9)], [(5, 6)], [(0, 0)], id="each-detection-once"),
        pytest.param([], [(1, 2)], [], id="nothing-true"),
    ],
)
def test_match_events(truth, detected, pairs):
    assert match_events(truth, detected) == pairs


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        pytest.param((4, 5, 4), (0.8, 1.0, 8 / 9), id="one-false-positive"),
        pytest.param((0, 0, 0), (1.0, 1.0, 1.0), id="nothing-to-find"),
        pytest.param((3, 0, 0), (1.0, 0.0, 0.0), id="all-missed"),
    ],
)
def test_prf(counts, expected):
    assert prf(*counts) == pytest.approx(expected)


def test_evaluation_json_keeps_its_keys():
    clip = ClipResult("a.avi", 2, 2, 1, 0.5, 0.5, 0.5, 100, 99, [(1, 3), (10, 12)], [(2, 3), (50, 51)])
    ev = BlinkEvaluation(BlinkScores.from_counts(2, 2, 1), (clip,))
    d = ev.to_dict()
    assert d["overall"] == {
        "true": 2,
        "detected": 2,
        "matched": 1,
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
    }
    assert list(d["clips"][0]) == [
        "clip", "true", "detected", "matched", "precision", "recall", "f1", "frames", "frames_with_face",
        "true_spans", "detected_spans",
    ]  # fmt: skip
