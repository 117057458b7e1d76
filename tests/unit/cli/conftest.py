"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cli_cwd(tmp_path, monkeypatch):
    """Run in an empty folder: no gazescope.db or .env picked up from the repo, and none left behind."""
    monkeypatch.chdir(tmp_path)  # no gazescope.db or .env picked up from the repo
    yield
    assert not list(Path(tmp_path).glob("*.db"))
