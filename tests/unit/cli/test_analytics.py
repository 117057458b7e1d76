"""``gazescope heatmap`` / ``gazescope report`` on a real SQLite database written through the API, and on
``gazescope analyze``-style output folders (samples.csv + report.json): PNG sizes, % viewers per AOI,
clear errors for bad selections."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from gazescope.analytics.events import gaze_points_to_samples
from gazescope.analytics.export import samples_to_csv
from gazescope.api.app import create_app
from gazescope.cli import app as cli
from gazescope.config import Settings
from support.gaze_plans import AOIS, PLANS, H, W, points

runner = CliRunner()


def png(w: int = W, h: int = H) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 220, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, str, list[str]]:
    """A database with one stimulus (two AOIs) and four ended sessions on it."""
    path = tmp_path / "cli.db"
    settings = Settings(db_path=path, profiles_dir=tmp_path / "p", trusted_hosts=["testserver"])
    with TestClient(create_app(settings)) as c:
        stim = c.post("/api/stimuli", files={"file": ("s.png", png(), "image/png")}).json()["id"]
        assert c.put(f"/api/stimuli/{stim}/aois", json={"aois": AOIS}).status_code == 200
        ids = []
        for k, plan in enumerate(PLANS):
            sid = c.post(
                "/api/sessions",
                json={"stimulus_id": stim, "user_id": f"u{k % 2}", "screen_w_px": W, "screen_h_px": H},
            ).json()["id"]
            assert c.post(f"/api/sessions/{sid}/gaze", json={"points": points(plan)}).status_code == 200
            assert c.post(f"/api/sessions/{sid}/end").status_code == 200
            ids.append(sid)
    return path, stim, ids


def size_of(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def run(*args: str) -> Any:
    return runner.invoke(cli, [str(a) for a in args])


def test_heatmap_and_report_from_the_database(db: tuple[Path, str, list[str]], tmp_path: Path) -> None:
    path, stim, ids = db
    out = tmp_path / "agg.png"
    r = run("heatmap", "--db", path, "--stimulus", stim, "--out", out)
    assert r.exit_code == 0, r.output
    assert size_of(out) == (W, H) and "4 of 4 sessions" in r.output

    r = run("heatmap", "--db", path, ids[0], "--kind", "scanpath", "--out", tmp_path / "scan.png")
    assert r.exit_code == 0, r.output
    assert size_of(tmp_path / "scan.png") == (W, H)

    r = run("heatmap", "--db", path, "--user", "u1", "--out", tmp_path / "u1.png")
    assert r.exit_code == 0 and "2 of 2 sessions" in r.output

    r = run("report", "--db", path, "--stimulus", stim, "--out", tmp_path / "rep")
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert {a["name"]: a["viewers_pct"] for a in rep["aois"]} == {"left": 100.0, "right": 50.0}
    assert (tmp_path / "rep" / "heatmap.png").is_file()
    assert "<html" in (tmp_path / "rep" / "report.html").read_text()

    r = run("report", "--db", path, ids[2], "--out", tmp_path / "one")
    assert r.exit_code == 0, r.output
    one = json.loads((tmp_path / "one" / "report.json").read_text())
    assert one["fixation_count"] == 2 and [a["name"] for a in one["aois"]] == ["left", "right"]
    assert {p.name for p in (tmp_path / "one").iterdir()} >= {"heatmap.png", "scanpath.png", "trail.png"}


def write_folder(folder: Path, plan: list[tuple[float, float]]) -> None:
    folder.mkdir(parents=True)
    samples = gaze_points_to_samples(points(plan), screen_w_px=W, screen_h_px=H)
    (folder / "samples.csv").write_text(samples_to_csv(samples))
    (folder / "report.json").write_text(json.dumps({"screen_w_px": W, "screen_h_px": H, "fps": 25.0}))


def test_analyze_folders(tmp_path: Path) -> None:
    folders = []
    for k, plan in enumerate(PLANS):
        write_folder(tmp_path / f"run{k}", plan)
        folders += ["--folder", tmp_path / f"run{k}"]
    (tmp_path / "stim.png").write_bytes(png())
    (tmp_path / "aois.json").write_text(json.dumps({"aois": AOIS}))
    r = run(
        "report",
        *folders,
        "--image",
        tmp_path / "stim.png",
        "--aois",
        tmp_path / "aois.json",
        "--out",
        tmp_path / "r",
    )
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    assert {a["name"]: a["viewers_pct"] for a in rep["aois"]} == {"left": 100.0, "right": 50.0}
    assert "AOI right: 50% of viewers (2/4)" in r.output

    r = run("heatmap", *folders, "--transparent", "--out", tmp_path / "t.png")
    assert r.exit_code == 0, r.output
    with Image.open(tmp_path / "t.png") as im:
        assert im.mode == "RGBA" and im.size == (W, H)

    r = run("heatmap", "--folder", tmp_path / "run0", "--kind", "trail", "--out", tmp_path / "trail.png")
    assert r.exit_code == 0 and size_of(tmp_path / "trail.png") == (W, H)


def test_bad_selections_fail_clearly(db: tuple[Path, str, list[str]], tmp_path: Path) -> None:
    path, stim, ids = db
    cases = [
        (["heatmap", "--stimulus", stim], "exactly one of --db"),
        (["heatmap", "--db", tmp_path / "missing.db", "--stimulus", stim], "no database file"),
        (["heatmap", "--db", path], "name session ids"),
        (["heatmap", "--db", path, "ghost"], "not found"),
        (["heatmap", "--db", path, "--stimulus", stim, "--kind", "scanpath"], "draws one session"),
        (["heatmap", "--db", path, ids[0], "--method", "magic"], "unknown fixation method"),
        (["heatmap", "--folder", tmp_path], "no samples.csv"),
        (["report", "--db", path, "--user", "nobody"], "no session matches"),
    ]
    for args, reason in cases:
        r = run(*args, "--out", tmp_path / "x.png")
        assert r.exit_code == 2, (args, r.output)
        assert reason in r.output, (args, r.output)


def test_cli_and_api_draw_a_users_heatmap_in_the_same_space(tmp_path: Path) -> None:
    """Sessions without a stimulus on two screen sizes: ``gazescope heatmap --user`` and
    ``GET /api/users/{id}/heatmap.png`` both draw in the most common screen (services.figures.aggregate_space)."""
    path = tmp_path / "space.db"
    settings = Settings(db_path=path, profiles_dir=tmp_path / "p", trusted_hosts=["testserver"])
    with TestClient(create_app(settings)) as c:
        for k, (w, h) in enumerate([(W, H), (2 * W, 2 * H), (2 * W, 2 * H)]):
            sid = c.post("/api/sessions", json={"user_id": "amy", "screen_w_px": w, "screen_h_px": h}).json()[
                "id"
            ]
            pts = [{**p, "x_px": p["x_px"] * w / W, "y_px": p["y_px"] * h / H} for p in points(PLANS[k])]
            assert c.post(f"/api/sessions/{sid}/gaze", json={"points": pts}).status_code == 200
            assert c.post(f"/api/sessions/{sid}/end").status_code == 200
        api = c.get("/api/users/amy/heatmap.png")
        assert api.status_code == 200, api.text
        with Image.open(io.BytesIO(api.content)) as im:
            api_size = im.size
    out = tmp_path / "amy.png"
    r = run("heatmap", "--db", path, "--user", "amy", "--out", out)
    assert r.exit_code == 0, r.output
    assert size_of(out) == api_size == (2 * W, 2 * H)
