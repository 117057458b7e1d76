"""Frame decoding: real frames decode, every kind of bad input is a FrameDecodeError."""

from __future__ import annotations

import base64
import struct

import cv2
import numpy as np
import pytest

from gazescope.errors import FrameDecodeError, FrameTooLargeError
from gazescope.vision.frames import decode_frame, encode_jpeg


@pytest.fixture(scope="module")
def real_jpeg(data_dir) -> bytes:
    return (data_dir / "images" / "obama-480p.jpg").read_bytes()


@pytest.fixture(scope="module")
def desk_frame(desk_video) -> np.ndarray:
    cap = cv2.VideoCapture(str(desk_video))
    ok, frame = cap.read()
    cap.release()
    assert ok
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def test_real_jpeg_bytes_decode_to_rgb(real_jpeg):
    img = decode_frame(real_jpeg)
    ref = cv2.cvtColor(cv2.imdecode(np.frombuffer(real_jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert img.dtype == np.uint8 and img.shape == ref.shape
    assert np.abs(img.astype(int) - ref.astype(int)).mean() < 2.0


def test_base64_and_data_url_give_the_same_image(desk_frame):
    jpeg = encode_jpeg(desk_frame, 80)
    b64 = base64.b64encode(jpeg).decode()
    a = decode_frame(jpeg)
    assert np.array_equal(a, decode_frame(b64))
    assert np.array_equal(a, decode_frame("data:image/jpeg;base64," + b64))
    assert np.array_equal(a, decode_frame(b64.encode()))
    assert a.shape == (480, 640, 3)


def test_png_decodes_exactly(desk_frame):
    ok, png = cv2.imencode(".png", cv2.cvtColor(desk_frame, cv2.COLOR_RGB2BGR))
    assert ok
    assert np.array_equal(decode_frame(png.tobytes()), desk_frame)


def _tiny_jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode_jpeg(np.zeros((8, 8, 3), np.uint8)))
    sof = data.find(b"\xff\xc0")
    assert sof > 0
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("empty", b"", "empty"),
        ("empty text", "", "empty"),
        ("random bytes", np.random.default_rng(0).bytes(4096), "not a JPEG or PNG"),
        ("gif", GIF, "GIF"),
        ("bad base64", "data:image/jpeg;base64,@@@@", "base64"),
        ("data url of a gif", "data:image/gif;base64,R0lGODlh", "image/gif"),
    ],
)
def test_bad_input_is_a_frame_decode_error(name, payload, message):
    with pytest.raises(FrameDecodeError, match=message):
        decode_frame(payload)


def test_truncated_jpeg(desk_frame):
    jpeg = encode_jpeg(desk_frame)
    with pytest.raises(FrameDecodeError, match="truncated"):
        decode_frame(jpeg[: len(jpeg) // 2])


def test_corrupt_jpeg_body(desk_frame):
    jpeg = encode_jpeg(desk_frame)
    junk = jpeg[:700] + np.random.default_rng(1).bytes(len(jpeg) - 702) + jpeg[-2:]
    with pytest.raises(FrameDecodeError):
        decode_frame(junk)


def test_tiny_jpeg_claiming_60000_pixels_is_refused_before_decoding():
    data = _tiny_jpeg_claiming(60000, 60000)
    assert len(data) < 2000
    with pytest.raises(FrameTooLargeError, match="60000x60000"):
        decode_frame(data)


def test_byte_limit_checked_before_decoding(desk_frame):
    jpeg = encode_jpeg(desk_frame, 95)
    with pytest.raises(FrameTooLargeError, match="exceeds the limit"):
        decode_frame(jpeg, max_bytes=len(jpeg) - 1)
    with pytest.raises(FrameTooLargeError):
        decode_frame(base64.b64encode(jpeg).decode(), max_bytes=len(jpeg) // 2)


def test_pixel_limit_is_configurable(desk_frame):
    with pytest.raises(FrameTooLargeError, match="640x480"):
        decode_frame(encode_jpeg(desk_frame), max_width=320, max_height=320)


def test_error_messages_carry_no_image_data(desk_frame):
    jpeg = encode_jpeg(desk_frame)
    with pytest.raises(FrameDecodeError) as err:
        decode_frame(base64.b64encode(jpeg[:-50]).decode())
    assert len(str(err.value)) < 200


def test_live_limits_refuse_16_bit_and_oversized_pngs_before_decoding(monkeypatch) -> None:
    """Issue 9 defect 7: a 127 KiB 16-bit 4096x4096 PNG cost ~360 ms of a worker thread. Live frames are
    8-bit only and at most ``Settings.live_max_frame_pixels``, both read from the header: no pixel is
    decoded for a refused frame."""
    from gazescope.config import Settings
    from gazescope.vision import frames
    from gazescope.vision.frames import png_bit_depth

    live = Settings().live_max_frame_pixels
    assert live == 1920 * 1080
    png16 = cv2.imencode(".png", np.zeros((1024, 1024, 3), np.uint16))[1].tobytes()
    assert png_bit_depth(png16) == 16
    assert decode_frame(png16).shape == (1024, 1024, 3)  # offline images may be 16-bit
    big = cv2.imencode(".png", np.zeros((2160, 3840, 3), np.uint8))[1].tobytes()

    def no_decoding(*args, **kwargs):
        raise AssertionError("pixels decoded for a frame the header already refuses")

    monkeypatch.setattr(frames.cv2, "imdecode", no_decoding)
    with pytest.raises(FrameDecodeError, match="8-bit"):
        decode_frame(png16, eight_bit_only=True, max_pixels=live)
    with pytest.raises(FrameTooLargeError, match="live frame limit"):
        decode_frame(big, eight_bit_only=True, max_pixels=live)
    monkeypatch.undo()
    hd = cv2.imencode(".jpg", np.zeros((1080, 1920, 3), np.uint8))[1].tobytes()
    assert decode_frame(hd, eight_bit_only=True, max_pixels=live).shape == (1080, 1920, 3)
