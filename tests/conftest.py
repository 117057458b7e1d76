"""Shared fixtures: the real data folder, a real redis-server, free ports."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("GAZESCOPE_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("redis-server did not start within 10 s")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)
