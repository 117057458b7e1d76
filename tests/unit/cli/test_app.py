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
