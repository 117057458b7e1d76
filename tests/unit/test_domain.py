"""Domain values: GazeSample's enums (typed in Python, plain strings in JSON) and its dict round trip."""

from __future__ import annotations

import json

import pytest

from gazescope.domain import AttentionState, Direction, GazeSample


@pytest.mark.parametrize(
    ("given", "state", "direction"),
    [
        pytest.param({}, AttentionState.ABSENT, None, id="defaults"),
        pytest.param({"attention_state": "focused", "direction": "left"}, AttentionState.FOCUSED, Direction.LEFT,
                     id="strings"),
        pytest.param({"attention_state": AttentionState.DROWSY, "direction": Direction.CENTER},
                     AttentionState.DROWSY, Direction.CENTER, id="enums"),
    ],
)  # fmt: skip
def test_string_fields_are_enums(given, state, direction):
    s = GazeSample(t_ms=0.0, frame_index=0, face_detected=True, **given)
    assert s.attention_state is state and s.direction is direction


def test_json_holds_the_plain_values_and_round_trips():
    s = GazeSample(
        t_ms=1.5, frame_index=3, face_detected=True, attention_state="looking_away", direction="right"
    )
    d = s.to_dict()
    assert type(d["attention_state"]) is str and type(d["direction"]) is str
    assert json.loads(json.dumps(d))["attention_state"] == "looking_away" and d["direction"] == "right"
    assert GazeSample.from_dict(d) == s


def test_unknown_state_is_refused():
    with pytest.raises(ValueError, match="sleepy"):
        GazeSample(t_ms=0.0, frame_index=0, face_detected=True, attention_state="sleepy")
