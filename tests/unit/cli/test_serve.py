"""``gazescope serve`` refuses bad settings with a reason (exit code 2) before starting anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from gazescope.cli import app

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("cli_cwd")  # tests/unit/cli/conftest.py


def test_serve_refuses_a_bad_setting(monkeypatch):
    monkeypatch.setenv("GAZESCOPE_PORT", "not-a-port")
    res = runner.invoke(app, ["serve"])
    assert res.exit_code == 2 and "port" in res.output.lower()


def test_serve_refuses_several_workers_without_redis(monkeypatch):
    monkeypatch.setenv("GAZESCOPE_WORKERS", "1")  # --workers 2 must override it
    monkeypatch.delenv("GAZESCOPE_REDIS_URL", raising=False)
    res = runner.invoke(app, ["serve", "--workers", "2"])
    assert res.exit_code == 2 and "needs Redis" in res.output


def test_options_reach_the_settings_without_touching_the_environment(monkeypatch):
    from gazescope.cli.serve import load_settings

    monkeypatch.setenv("GAZESCOPE_HOST", "127.0.0.1")
    monkeypatch.setenv("GAZESCOPE_PORT", "8000")
    monkeypatch.delenv("GAZESCOPE_WORKERS", raising=False)
    before = dict(os.environ)
    settings = load_settings("0.0.0.0", 9001, None)
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 9001, 1)
    defaults = load_settings(None, None, None)
    assert (defaults.host, defaults.port) == ("127.0.0.1", 8000)
    res = runner.invoke(app, ["serve", "--workers", "2"])  # refused: no Redis
    assert res.exit_code == 2
    assert dict(os.environ) == before


def _serve(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``gazescope serve`` in a subprocess (as a user runs it), without GAZESCOPE_* of the test run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAZESCOPE_")}
    return subprocess.run(
        [sys.executable, "-m", "gazescope.cli", "serve", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_port_out_of_range_is_one_clear_line_and_exit_2():
    proc = _serve("--port", "99999")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr  # not pydantic's multi-line dump
    assert "port" in lines[0] and "99999" in lines[0] and "65535" in lines[0] and "--port" in lines[0]
    assert "pydantic" not in proc.stderr and "errors.pydantic.dev" not in proc.stderr
    assert "serving on" not in proc.stdout


def test_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("GAZESCOPE_PORT", "not-a-port")
    res = runner.invoke(app, ["serve"])
    assert res.exit_code == 2
    assert "GAZESCOPE_PORT" in res.output and "not-a-port" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_busy_port_is_reported_before_serving_on():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _serve("--port", str(port))
    assert proc.returncode != 0
    assert "serving on" not in proc.stdout, proc.stdout
    assert "already in use" in proc.stderr and str(port) in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
