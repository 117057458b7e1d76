"""The fixation-detector registry: lookup by name, errors listing what exists."""

from __future__ import annotations

import pytest

from gazescope.analytics.events import fixation_detector, fixation_detectors, register_fixation_detector
from gazescope.errors import ValidationError


def test_registered_detectors_and_their_defaults():
    assert fixation_detectors() == ("idt", "ivt")
    assert (fixation_detector("idt").default_px, fixation_detector("idt").default_deg) == (100.0, 2.5)
    assert fixation_detector("ivt").threshold_unit == "px/s velocity"


def test_unknown_name_lists_what_exists():
    with pytest.raises(ValidationError, match="available: 'idt', 'ivt'"):
        fixation_detector("nope")


def test_a_name_registers_once():
    with pytest.raises(ValueError, match="already registered"):
        register_fixation_detector("idt", default_px=1.0, default_deg=1.0, threshold_unit="px")(lambda: [])
