"""The calibration quality gate: a mean validation error against the threshold, both in % of the width."""

from __future__ import annotations

import math

import pytest

from gazescope.calibration.quality import quality_gate
from gazescope.config import Settings


@pytest.mark.parametrize(
    ("error_pct", "passed"),
    [
        pytest.param(7.1, True, id="field-webcam-106px-of-1500"),
        pytest.param(20.0, True, id="at-the-threshold"),
        pytest.param(27.3, False, id="issue-19-341px-of-1250"),
        pytest.param(math.nan, False, id="nan"),
        pytest.param(math.inf, False, id="inf"),
    ],
)
def test_the_gate_holds_the_error_against_the_threshold(error_pct: float, passed: bool) -> None:
    gate = quality_gate(error_pct, 20.0)
    assert gate.passed is passed and gate.max_error_pct_width == 20.0
    out = gate.to_dict()
    assert out["passed"] is passed and out["max_error_pct_width"] == 20.0
    assert out["error_pct_width"] == (round(error_pct, 3) if math.isfinite(error_pct) else None)


@pytest.mark.parametrize("threshold", [0.0, -1.0, 100.5])
def test_a_threshold_outside_0_100_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match=r"\(0, 100\]"):
        quality_gate(10.0, threshold)


def test_the_default_threshold_fails_a_poor_grade_and_passes_fair() -> None:
    limit = Settings().calibration_max_error_pct_width
    assert quality_gate(19.9, limit).passed and not quality_gate(20.1, limit).passed
    with pytest.raises(ValueError):
        Settings(calibration_max_error_pct_width=0)
