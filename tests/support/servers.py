"""Real processes for tests: free loopback ports, readiness waits, ``gazescope serve`` and ``redis-server``.

``start_server`` runs ``python -m gazescope.cli serve`` from this checkout's ``src`` with no ``GAZESCOPE_*``
variable of the test run leaking in (``server_env``), and returns once ``/healthz`` answers.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
#: Longest wait for a started server to answer ``/healthz`` (a cold start imports MediaPipe and OpenCV).
START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, *, timeout_s: float = 10.0) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port`` within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_for_healthz(
    url: str, *, timeout_s: float, alive: Callable[[], bool] = lambda: True, interval_s: float = 0.2
) -> str:
    """Poll ``{url}/healthz`` until it answers 200: "ok"; "exited" when ``alive()`` turns False first,
    "timeout" after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            return "exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return "ok"
        except httpx.HTTPError:
            pass
        time.sleep(interval_s)
    return "timeout"


def server_env(**overrides: str) -> dict[str, str]:
    """This process's environment without ``GAZESCOPE_*`` variables, with ``src`` first on ``PYTHONPATH``
    and unbuffered output, updated with ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAZESCOPE_")}
    env.update(
        PYTHONPATH=os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p),
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def spawn_serve(args: Sequence[str], *, env: dict[str, str], cwd: Path, log_path: Path) -> subprocess.Popen:
    """``python -m gazescope.cli serve *args`` with stdout and stderr into ``log_path``."""
    with log_path.open("wb") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "gazescope.cli", "serve", *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )


def stop_process(proc: subprocess.Popen, *, timeout_s: float = 30.0) -> int:
    """SIGTERM, then kill after ``timeout_s``; the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


@dataclass
class Server:
    """A running ``gazescope serve`` subprocess."""

    proc: subprocess.Popen
    port: int
    log_path: Path
    db_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int:
        return stop_process(self.proc)


def start_server(
    tmp_path: Path, *, port: int | None = None, db_path: Path | None = None, **env_overrides: str
) -> Server:
    """Start ``gazescope serve`` on ``port`` (default: a free one) with SQLite at ``db_path`` (default: a
    new file in ``tmp_path``) unless the environment overrides say otherwise; wait until ``/healthz``
    answers (``START_TIMEOUT_S`` at most). A restart on the same port and database continues its sessions.

    Raises:
        RuntimeError: the server exited, or did not answer in time (its log in the message).
    """
    port = port or free_port()
    db_path = db_path or tmp_path / f"gazescope-{port}.db"
    defaults = {"GAZESCOPE_DB_PATH": str(db_path), "GAZESCOPE_PROFILES_DIR": str(tmp_path / "profiles")}
    env = server_env(**{**defaults, **env_overrides})  # the overrides win
    log_path = tmp_path / f"server-{port}-{time.monotonic_ns()}.log"
    proc = spawn_serve(["--port", str(port)], env=env, cwd=tmp_path, log_path=log_path)
    server = Server(proc, port, log_path, db_path)
    state = wait_for_healthz(server.url, timeout_s=START_TIMEOUT_S, alive=server.alive)
    if state == "ok":
        return server
    if state == "exited":
        raise RuntimeError(f"gazescope serve exited with {proc.returncode}:\n{server.log()}")
    server.stop()
    raise RuntimeError(
        f"gazescope serve did not answer /healthz within {START_TIMEOUT_S:g} s:\n{server.log()}"
    )


def start_redis(port: int, *args: str) -> subprocess.Popen:
    """A real ``redis-server`` on 127.0.0.1:``port`` without persistence (more options in ``args``); the
    calling test is skipped where redis-server is not installed."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
