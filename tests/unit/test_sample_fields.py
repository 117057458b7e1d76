"""The one table of sample fields (gazescope.sample_fields): it covers GazeSample and the CSV columns,
docs/samples.md is generated from it, and its checks catch what is out of range."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from gazescope import sample_fields as sf
from gazescope.domain import SAMPLE_CSV_COLUMNS, GazeSample

DOC = Path(__file__).resolve().parents[2] / "docs" / "samples.md"


def test_the_table_holds_every_field_of_a_sample_in_order() -> None:
    names = [f.name for f in fields(GazeSample) if f.name != "features"]
    assert [s.name for s in sf.SAMPLE_FIELDS] == names
    assert set(GazeSample(t_ms=0.0, frame_index=0, face_detected=False).to_dict()) == set(names)


def test_every_csv_column_is_in_the_table() -> None:
    columns = sf.split_csv_columns((*sf.SAMPLE_FIELDS, *sf.STORED_EXTRA_FIELDS))
    assert set(SAMPLE_CSV_COLUMNS) <= set(columns)


def test_docs_samples_md_is_the_tables_markdown() -> None:
    assert DOC.read_text() == sf.markdown(), "run: python -m gazescope.sample_fields > docs/samples.md"


def test_docs_do_not_point_outside_the_repository() -> None:
    for page in DOC.parent.glob("*.md"):
        text = page.read_text()
        assert "DESIGN.md" not in text and "../shared" not in text.replace("../shared/data", ""), page.name


SIZES = {"frame_w": 640, "frame_h": 480, "screen_w": 1280, "screen_h": 800}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("horizontal_ratio", 800.0, id="ratio-is-the-screen-height"),
        pytest.param("screen_x_px", 1300.0, id="screen-x-past-the-screen"),
        pytest.param("screen_y_px", -1.0, id="screen-y-negative"),
        pytest.param("pupil_left_px", [10.0, 500.0], id="pupil-below-the-frame"),
        pytest.param("gaze_vector", [0.0, 1.5], id="gaze-vector-over-1"),
        pytest.param("attention_state", "sleepy", id="unknown-state"),
        pytest.param("face_detected", None, id="null-bool"),
        pytest.param("eye_contact_pct", float("nan"), id="nan"),
        pytest.param("blink_count", 1.5, id="fractional-count"),
    ],
)
def test_out_of_range_values_are_caught(field: str, value: object) -> None:
    sample = GazeSample(t_ms=5.0, frame_index=0, face_detected=True).to_dict()
    assert sf.violations(sample, sizes=SIZES) == []
    sample[field] = value
    (why,) = sf.violations(sample, sizes=SIZES)
    assert field in why


def test_client_gaze_points_keep_off_screen_points_and_missing_fields_are_named() -> None:
    point = {"t_ms": 5.0, "frame_index": 0, "face_detected": True, "is_blinking": False,
             "screen_x_px": -40.0, "screen_y_px": 10.0, "on_screen": False, "attention_state": "looking_away",
             "source": "client_gaze"}  # fmt: skip
    assert sf.violations(point, sizes=SIZES) == []
    sample = GazeSample(t_ms=5.0, frame_index=0, face_detected=True).to_dict()
    del sample["confidence"]
    assert sf.violations(sample, sizes=SIZES) == ["confidence is missing"]


def test_seed_wire_fields_are_checked_with_dotted_names() -> None:
    (seed000,) = (v for k, v in sf.SEED_WIRE_FIELDS.items() if k.startswith("seed 000"))
    reply = {"face": None, "gaze": None, "gaze_direction": None, "activity": "absent", "blink_rate": 0.0}
    assert sf.violations(reply, seed000, SIZES) == []
    reply["gaze"] = {"horizontal": 1.2, "vertical": 0.5, "eyes": {"left": {"x": 1, "y": 2}, "right": None}}
    assert sf.violations(reply, seed000, SIZES) == [
        "gaze.horizontal=1.2 is outside -1..1 ({'frame_w': 640, 'frame_h': 480, 'screen_w': 1280, 'screen_h': 800})"
    ]


def test_client_gaze_samples_carry_only_their_fields() -> None:
    from gazescope.analytics.samples import client_gaze_samples

    (s,) = client_gaze_samples([{"t_ms": 0, "x_px": 5, "y_px": 6}], screen_w_px=100, screen_h_px=100)
    assert sf.violations(s) == [] and set(sf.CLIENT_GAZE_FIELDS) <= set(s)
    assert sf.violations({**s, "ear_left": 0.3}) != []
