"""``gazescope bench`` on a real recording prints every stage."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gazescope.cli import app

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("cli_cwd")  # tests/unit/cli/conftest.py


def test_bench_prints_every_stage(desk_video, tmp_path):
    out = tmp_path / "bench.json"
    res = runner.invoke(
        app, ["bench", str(desk_video), "--max-frames", "60", "--json", str(out), "--all-cores"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert set(data["stages"]) == {"decode", "landmarks", "measures", "tracking", "total"}
    assert all(set(v) == {"p50", "p95"} for v in data["stages"].values())
    assert data["frames"] == 60 and data["frames_with_face"] == 60
    st = data["stages"]
    assert st["total"]["p50"] >= st["landmarks"]["p50"]
