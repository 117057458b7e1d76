"""``gazescope vendor`` (issue 22) on local tarballs: a tarball that is not the pinned one is refused with
exit code 2 and a reason, nothing is installed; a folder that already holds the pinned version is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gazescope.cli import app
from gazescope.services import face_mesh_vendor as fv
from support.face_mesh_tarball import make_tarball, package_files

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("cli_cwd")  # tests/unit/cli/conftest.py


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    tgz = tmp_path / "fm.tgz"
    make_tarball(tgz, package_files())
    dest = tmp_path / "vendor"
    res = runner.invoke(app, ["vendor", "--source", str(tgz), "--dest", str(dest)])
    assert res.exit_code == 2, res.output
    assert "integrity check failed" in res.output and "sends camera frames" in res.output
    assert not dest.exists()


def test_an_installed_folder_is_kept(tmp_path: Path) -> None:
    dest = tmp_path / "vendor"
    dest.mkdir()
    for name in fv.REQUIRED_FILES:
        (dest / name).write_bytes(b"x")
    (dest / fv.STAMP).write_text(json.dumps({"integrity": fv.FACE_MESH_INTEGRITY}))
    res = runner.invoke(app, ["vendor", "--dest", str(dest), "--source", str(tmp_path / "absent.tgz")])
    assert res.exit_code == 0, res.output
    assert "already in" in res.output
