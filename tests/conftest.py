"""Shared fixtures: the real data folder and a real redis-server (helpers: the ``support`` package)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.servers import free_port, start_redis, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
# In-process apps (TestClient) run frames in threads: a frame-process pool per test app would spawn two
# MediaPipe processes per test. Servers started by the tests drop GAZESCOPE_* variables (support.servers)
# and so run the default, one frame process per core; tests that need either mode set it.
os.environ.setdefault("GAZESCOPE_FRAME_PROCESSES", "0")
DATA_DIR = Path(os.environ.get("GAZESCOPE_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data`` (or ``GAZESCOPE_DATA_DIR``); the test is skipped where it is absent."""
    if not (DATA_DIR / "videos").is_dir():
        pytest.skip(f"real data folder not found at {DATA_DIR} (set GAZESCOPE_DATA_DIR)")
    return DATA_DIR


@pytest.fixture(scope="session")
def desk_video(data_dir: Path) -> Path:
    return data_dir / "videos" / "desk_webcam_640x480.avi"


@pytest.fixture(scope="session")
def redis_server():
    """A real ``redis-server`` on a free loopback port, no persistence; yields its URL."""
    port = free_port()
    proc = start_redis(port)
    if not wait_for_port(port, timeout_s=10):
        proc.kill()
        pytest.fail("redis-server did not start within 10 s")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)
