"""Seed 004's message format (api.seeds.seed004.Seed004Wire)."""

from __future__ import annotations

import json

import pytest

from gazescope.api.seeds.seed004 import Seed004Wire
from gazescope.api.wire import ProtocolError


def test_calibration_frame_binary_with_user() -> None:
    msg = "C" + json.dumps(
        {"userId": "u7", "images": "QUJD", "age": 30, "gender": "f", "coordinates": [10, 20.5]}
    )
    inbound = Seed004Wire("test_dispatcher").parse_bytes(msg.encode())
    assert inbound.type == "frame" and inbound.payload == "QUJD"
    assert inbound.body == {"seed004": "calibration", "user_id": "u7", "target_px": (10.0, 20.5)}


def test_prediction_frame_of_the_simulation_client() -> None:
    msg = "P" + json.dumps(
        {"images": "QUJD", "relativeTime": 1500, "videoIndex": 1,
         "videos": ["http://h/api/stimuli/a/video", "http://h:8000/api/stimuli/b_2/video?token=x"]}
    )  # fmt: skip
    inbound = Seed004Wire("dispatcher").parse_text(msg)
    assert inbound.body == {"seed004": "prediction", "relative_s": 1.5, "video_id": "b_2"}


@pytest.mark.parametrize(
    ("text", "kind", "body"),
    [
        pytest.param("RequestVideoURL:3", "seed004_video_urls", {"n": 3}, id="urls"),
        pytest.param("RequestVideoURL:100000", "seed004_video_urls", {"n": 100}, id="urls-capped"),
        pytest.param("END", "seed004_end", {}, id="end"),
    ],
)
def test_control_messages(text: str, kind: str, body: dict) -> None:
    inbound = Seed004Wire("dispatcher").parse_text(text)
    assert (inbound.type, inbound.body) == (kind, body)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("X{}", id="unknown-prefix"),
        pytest.param("C{not json", id="bad-json"),
        pytest.param('C{"images": "QUJD", "coordinates": [1]}', id="one-coordinate"),
        pytest.param('C{"images": "QUJD", "coordinates": [1, NaN]}', id="nan-coordinate"),
        pytest.param('P{"images": ""}', id="no-image"),
        pytest.param("RequestVideoURL:two", id="bad-count"),
        pytest.param("RequestVideoURL:\u00b2", id="superscript-count"),  # "²".isdigit() is True
        pytest.param("RequestVideoURL:\u0663", id="arabic-indic-count"),
        pytest.param("RequestVideoURL:" + "9" * 5000, id="5000-digit-count"),
        pytest.param("RequestVideoURL:1234567", id="7-digit-count"),
        pytest.param('C{"images": "QUJD", "coordinates": [1, ' + "9" * 400 + "]}", id="huge-coordinate"),
    ],
)
def test_bad_messages_are_protocol_errors(text: str) -> None:
    with pytest.raises(ProtocolError):
        Seed004Wire("test_dispatcher").parse_text(text)


def test_frames_get_no_reply() -> None:
    wire = Seed004Wire("test_dispatcher")
    assert wire.sample({"t_ms": 1.0}, wire.parse_text('P{"images": "QUJD"}'), 0.0) is None


def test_huge_relative_time_is_a_protocol_error() -> None:
    # every number from a client is range-checked at the edge (issue 9): an error message, not a crash
    msg = 'P{"images": "QUJD", "relativeTime": ' + "9" * 400 + ', "videoIndex": 0, "videos": []}'
    with pytest.raises(ProtocolError, match="relativeTime"):
        Seed004Wire("dispatcher").parse_text(msg)
