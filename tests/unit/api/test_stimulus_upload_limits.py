"""The body limit of a stimulus upload follows the kind of stimulus (issue 20, defect 5): a real MP4 over
the image limit (``max_stimulus_bytes``, 16 MiB) but under the video limit (``max_stimulus_video_bytes``,
64 MiB) is accepted; one over the video limit is 413 naming the video setting, whether the body's
``Content-Length`` says so or the upload is streamed chunked. Real app in-process, real SQLite file, a
real H.264 file made by ffmpeg from the shared webcam recording."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def big_mp4(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A valid MP4 of about 19 MiB: 18.5 s of the 640x480 desk recording, lossless H.264."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    out = tmp_path_factory.mktemp("video") / "desk_19mib.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(data_dir / "videos" / "desk_webcam_640x480.avi"),
         "-t", "18.5", "-an", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p",
         str(out)],
        check=True, timeout=120,
    )  # fmt: skip
    assert 17 * MiB < out.stat().st_size < 24 * MiB
    return out


def test_a_video_over_the_image_limit_is_accepted(client: TestClient, big_mp4: Path) -> None:
    """Before: 413 "request body exceeds the limit of 16842752 bytes (GAZESCOPE_MAX_STIMULUS_BYTES)"."""
    size = big_mp4.stat().st_size
    with big_mp4.open("rb") as fh:
        r = client.post("/api/stimuli", files={"file": ("desk.mp4", fh, "video/mp4")})
    assert r.status_code == 201, r.text
    v = r.json()
    assert (v["kind"], v["bytes"], v["width_px"], v["height_px"]) == ("video", size, 640, 480)


def test_an_image_over_the_image_limit_still_names_the_image_setting(
    make_client: Callable[..., TestClient],
) -> None:
    png_head = b"\x89PNG\r\n\x1a\n" + b"\x00" * (4 * 1024)
    with make_client(max_stimulus_bytes=2048) as c:
        r = c.post("/api/stimuli", files={"file": ("big.png", png_head, "image/png")})
        assert r.status_code == 413
        assert "2048 bytes" in r.json()["detail"] and "GAZESCOPE_MAX_STIMULUS_BYTES" in r.json()["detail"]


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(MiB):
            yield chunk


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_video_over_the_video_limit_is_413_naming_the_video_setting(
    make_client: Callable[..., TestClient], big_mp4: Path, chunked: bool
) -> None:
    limit = 18 * MiB  # above the image limit (16 MiB), below the file
    boundary = "gazescopeboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="desk.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    with make_client(max_stimulus_video_bytes=limit) as c:
        if chunked:
            body: bytes | Iterator[bytes] = iter([head, *_chunks(big_mp4), tail])
        else:
            body = head + big_mp4.read_bytes() + tail
        r = c.post("/api/stimuli", content=body, headers=headers)
        assert r.status_code == 413, r.text
        detail = r.json()["detail"]
        assert "GAZESCOPE_MAX_STIMULUS_VIDEO_BYTES" in detail and str(limit) in detail, detail
        assert c.get("/api/stimuli").json() == []
