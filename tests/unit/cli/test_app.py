"""The ``gazescope`` Typer app (``gazescope.cli``): every command is listed."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gazescope.cli import app

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("cli_cwd")  # tests/unit/cli/conftest.py


def test_help_lists_the_commands():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("serve", "analyze", "evaluate", "bench"):
        assert cmd in res.output


def test_version_prints_the_package_version():
    from importlib.metadata import version

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"gazescope {version('gazescope')}"
