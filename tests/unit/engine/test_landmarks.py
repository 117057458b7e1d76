"""Landmarks messages (issue 22): the binary GSLM form and the JSON form, each refusal with
``bad_landmarks``, and a good message read back exactly."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from gazescope.config import Settings
from gazescope.engine.landmarks import (
    HEADER,
    MESH_POINTS,
    encode_landmarks,
    parse_binary,
    parse_json,
    parse_landmarks,
)
from gazescope.engine.wire import Inbound, ProtocolError

LIMITS = Settings()


def mesh(seed: int = 0) -> np.ndarray:
    """478 plausible landmarks: x, y inside the image, small z."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0.2, 0.8, (MESH_POINTS, 3)).astype(np.float32)
    pts[:, 2] = rng.uniform(-0.1, 0.1, MESH_POINTS)
    return pts


def as_json(pts: np.ndarray | None, **over) -> dict:
    flat = [] if pts is None else [float(v) for v in pts.reshape(-1)]
    msg = {"type": "landmarks", "landmarks": flat, "width": 640, "height": 480, "t_ms": 123.5}
    msg["face_count"] = 0 if pts is None else 1
    msg.update(over)
    return msg


def test_a_good_binary_message_is_read_exactly() -> None:
    pts = mesh()
    data = encode_landmarks(pts, 640, 480, 123.5)
    assert len(data) == 5756 and data[:4] == b"GSLM"
    lm = parse_binary(data, LIMITS)
    assert (lm.width_px, lm.height_px, lm.face_count, lm.client_t_ms) == (640, 480, 1, 123.5)
    assert lm.points_norm.dtype == np.float32 and np.array_equal(lm.points_norm, pts)
    assert not lm.points_norm.flags.writeable and lm.nbytes == len(data)


def test_a_good_json_message_is_read_exactly_and_no_face_is_an_empty_list() -> None:
    pts = mesh(1)
    lm = parse_json(as_json(pts), LIMITS)
    assert np.array_equal(lm.points_norm, pts) and lm.client_t_ms == 123.5
    empty = parse_json(as_json(None), LIMITS)
    assert empty.points_norm.shape == (0, 3) and empty.face_count == 0
    none = parse_binary(encode_landmarks(None, 640, 480, 5.0), LIMITS)
    assert none.points_norm.shape == (0, 3) and none.face_count == 0


def test_parse_landmarks_reads_either_form_into_the_inbound() -> None:
    pts = mesh(2)
    a = parse_landmarks(Inbound("landmarks", payload=encode_landmarks(pts, 640, 480, 7.0)), LIMITS)
    b = parse_landmarks(Inbound("landmarks", body=as_json(pts, t_ms=7.0)), LIMITS)
    for inbound in (a, b):
        assert inbound.type == "landmarks" and inbound.payload is None and inbound.client_t_ms == 7.0
        assert inbound.landmarks is not None and np.array_equal(inbound.landmarks.points_norm, pts)


def _binary(**over) -> bytes:
    """A good binary message with header fields or the body replaced."""
    f = {"magic": b"GSLM", "version": 1, "faces": 1, "n": MESH_POINTS, "w": 640, "h": 480, "t": 1.0}
    body = over.pop("body", mesh().astype("<f4").tobytes())
    f.update(over)
    return HEADER.pack(f["magic"], f["version"], f["faces"], f["n"], f["w"], f["h"], f["t"]) + body


def _with_value(row: int, col: int, value: float) -> bytes:
    pts = mesh()
    pts[row, col] = value
    return _binary(body=pts.astype("<f4").tobytes())


@pytest.mark.parametrize(
    ("data", "why"),
    [
        pytest.param(b"GSLM\x01", "20-byte header", id="truncated-header"),
        pytest.param(_binary(magic=b"GSLX"), "starts with 'GSLM'", id="bad-magic"),
        pytest.param(_binary(version=2), "version 2", id="bad-version"),
        pytest.param(_binary()[:-4], "5756 bytes, got 5752", id="truncated-body"),
        pytest.param(_binary() + b"\0" * 12, "got 5768", id="too-many-values"),
        pytest.param(_binary(n=477, body=mesh()[:477].tobytes()), "not 477", id="wrong-n"),
        pytest.param(_binary(faces=0), "face_count must be 0 exactly", id="face-count-without-face"),
        pytest.param(_binary(n=0, body=b""), "face_count must be 0 exactly", id="points-missing"),
        pytest.param(_binary(w=0), "width and height", id="width-0"),
        pytest.param(_binary(h=5000), "width and height", id="height-too-big"),
        pytest.param(_binary(t=float("nan")), "t_ms", id="nan-time"),
        pytest.param(_with_value(10, 0, float("nan")), "finite", id="nan"),
        pytest.param(_with_value(3, 1, float("inf")), "finite", id="infinity"),
        pytest.param(_with_value(5, 0, 1e30), "normalised", id="huge-x"),
        pytest.param(_with_value(5, 1, -0.6), "normalised", id="y-out-of-range"),
        pytest.param(_with_value(7, 2, 6.0), "z", id="z-out-of-range"),
    ],
)
def test_a_bad_binary_message_is_bad_landmarks(data: bytes, why: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_binary(data, LIMITS)
    assert err.value.code == "bad_landmarks" and why in err.value.message


@pytest.mark.parametrize(
    ("msg", "why"),
    [
        pytest.param(as_json(mesh(), landmarks=None), "flat list", id="no-list"),
        pytest.param(as_json(mesh(), landmarks=[0.5] * 1437), "not 1437", id="too-many-values"),
        pytest.param(as_json(mesh(), landmarks=[0.5] * 1431), "not 1431", id="wrong-n"),
        pytest.param(as_json(mesh(), landmarks=[[0.5, 0.5, 0.0]] * 478), "not 478", id="nested"),
        pytest.param(as_json(mesh(), landmarks=["0.5"] * 1434), "numbers only", id="strings"),
        pytest.param(as_json(mesh(), width=0), "width and height", id="width-0"),
        pytest.param(as_json(mesh(), width=640.5), "integer 'width'", id="fractional-width"),
        pytest.param(as_json(mesh(), face_count=None), "integer 'face_count'", id="no-face-count"),
        pytest.param(as_json(mesh(), face_count=300), "0..255", id="face-count-too-big"),
        pytest.param(as_json(mesh(), t_ms="now"), "t_ms", id="text-time"),
        pytest.param(as_json(mesh(), landmarks=[2.0] * 1434), "normalised", id="out-of-range"),
    ],
)
def test_a_bad_json_message_is_bad_landmarks(msg: dict, why: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_json(msg, LIMITS)
    assert err.value.code == "bad_landmarks" and why in err.value.message


def test_the_bounds_are_settings() -> None:
    pts = mesh()
    pts[0, 0] = 1.2
    data = encode_landmarks(pts, 640, 480, 0.0)
    parse_binary(data, LIMITS)
    with pytest.raises(ProtocolError):
        parse_binary(data, Settings(landmarks_xy_margin_norm=0.1))
    with pytest.raises(ProtocolError):
        parse_binary(encode_landmarks(mesh(), 640, 480, 0.0), Settings(landmarks_max_image_px=600))
    assert struct.calcsize("<4sBBHHHd") == HEADER.size == 20
