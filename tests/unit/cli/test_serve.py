"""``gazescope serve`` refuses bad settings with a reason (exit code 2) before starting anything."""

from __future__ import annotations

import os

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
