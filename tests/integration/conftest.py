"""Fixtures of the service integration tests: a real ``gazescope serve`` subprocess, real frames.

``serve(**env)`` starts ``python -m gazescope.cli serve --port <free port>`` with ``GAZESCOPE_DB_PATH`` in
the test's tmp_path (plus any ``GAZESCOPE_*`` overrides) and waits for ``/healthz``
(``support.servers.start_server``); every server started is stopped (SIGTERM, then kill) after the test.
Servers skip the PyTorch preload (``calibration_preload_cnn``, 7-14 s of each start on the 2-core CI
machine) unless the test or its module is marked ``cnn`` (it fits the cnn mapper, directly or through
seed 004) or passes ``GAZESCOPE_CALIBRATION_PRELOAD_CNN`` itself.
``desk_jpegs``: the 842 frames of ``desk_webcam_640x480.avi`` as JPEG bytes (quality 70), as a browser would
send them.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.frames import video_jpegs
from support.servers import Server, start_server


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cnn: fits the cnn mapper; its servers preload PyTorch at start, as the service does"
    )


def preload_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """``GAZESCOPE_CALIBRATION_PRELOAD_CNN`` for the requesting test (or module): on only when marked ``cnn``.
    The setting only moves the PyTorch import from the start to the first cnn fit."""
    on = request.node.get_closest_marker("cnn") is not None
    return {"GAZESCOPE_CALIBRATION_PRELOAD_CNN": "true" if on else "false"}


@pytest.fixture
def serve(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Server]]:
    """Factory fixture: ``serve(GAZESCOPE_X="...")`` starts a server; all are stopped afterwards."""
    servers: list[Server] = []
    preload = preload_env(request)

    def _start(port: int | None = None, db_path: Path | None = None, **env: str) -> Server:
        s = start_server(tmp_path, port=port, db_path=db_path, **{**preload, **env})
        servers.append(s)
        return s

    yield _start
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def module_serve(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Server]]:
    """Like ``serve`` but the servers live for the whole test module (fewer start-ups)."""
    servers: list[Server] = []
    tmp = tmp_path_factory.mktemp("serve")
    preload = preload_env(request)

    def _start(port: int | None = None, db_path: Path | None = None, **env: str) -> Server:
        s = start_server(tmp, port=port, db_path=db_path, **{**preload, **env})
        servers.append(s)
        return s

    yield _start
    for s in servers:
        s.stop()


@pytest.fixture
def server(serve: Callable[..., Server]) -> Server:
    """One server on SQLite with default settings."""
    return serve()


@pytest.fixture(scope="session")
def desk_jpegs(desk_video: Path) -> list[bytes]:
    """All frames of the desk video as JPEG (quality 70)."""
    out = video_jpegs(desk_video)
    assert len(out) == 842, f"expected 842 frames in {desk_video}, read {len(out)}"
    return out


@pytest.fixture
def short_video(data_dir: Path, tmp_path: Path) -> Path:
    """A 3 s, 320x180, 30 FPS H.264 MP4 (90 frames) cut from the real stage clip with ffmpeg into tmp_path."""
    import shutil

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    out = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(data_dir / "videos" / "hamilton_clip_640x360.mp4"),
         "-t", "3", "-vf", "scale=320:180,fps=30", "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="session")
def webcam_dots(data_dir: Path) -> Callable[[str, str], list[dict]]:
    """``webcam_dots(subject, session)``: that session's images of ``gaze/webcam_dots`` as dicts
    ``{"jpeg", "x", "y", "w", "h"}`` (dot and screen size in px), in labels.csv order."""
    import csv

    folder = data_dir / "gaze" / "webcam_dots"
    if not (folder / "labels.csv").is_file():
        pytest.skip(f"webcam_dots not found under {data_dir}")
    with (folder / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))

    def load(subject: str, session: str) -> list[dict]:
        return [
            {"jpeg": (folder / r["image"]).read_bytes(), "x": float(r["x"]), "y": float(r["y"]),
             "w": int(r["screen_w"]), "h": int(r["screen_h"])}
            for r in rows
            if r["subject"] == subject and r["session"] == session
        ]  # fmt: skip

    return load


CHROMIUM = "/usr/bin/chromium"
#: Plain headless Chromium flags (no outbound requests from the browser itself), with a fake camera device
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]  # fmt: skip


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, one per test module (skipped where either is missing)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
