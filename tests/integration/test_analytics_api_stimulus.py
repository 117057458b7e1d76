"""Analytics through the API: a stimulus with AOIs, several viewers posting client-side gaze points with
hand-placed fixations, per-session events/figures/exports, and the aggregate heatmap and report.

The app runs in-process on FastAPI's TestClient (real lifespan, real SQLite file); one test repeats the
core flow against a real redis-server.

Synthetic viewers (25 Hz, 40 ms between points, +-2 px jitter that averages out inside each fixation):
a fixation of ``n`` points at (x, y) is one I-DT fixation from its first to its last point, centroid
exactly (x, y); one saccade point half-way between fixations is too far from both to join either.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from gazescope.api.app import create_app
from gazescope.config import Settings


@pytest.fixture(autouse=True)
def _testclient_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starlette's TestClient sends ``Host: testserver``: trust it here (Host checks: test_api_validation)."""
    monkeypatch.setenv("GAZESCOPE_TRUSTED_HOSTS", "localhost,127.0.0.1,testserver")


STIM_W, STIM_H = 1280, 720
DT_MS = 40.0

AOIS = [
    {"name": "logo", "kind": "rect", "x_px": 100, "y_px": 100, "w_px": 200, "h_px": 150},
    {"name": "headline", "kind": "rect", "x_px": 600, "y_px": 80, "w_px": 500, "h_px": 120},
    {"name": "button", "kind": "polygon", "points_px": [[800, 450], [1000, 450], [1000, 560], [800, 560]]},
]
LOGO, HEADLINE, BUTTON, NOWHERE = (200.0, 175.0), (850.0, 140.0), (900.0, 505.0), (200.0, 600.0)

# (screen size, [(target in stimulus px, points in the fixation)]) per viewer
VIEWERS: list[tuple[tuple[int, int], list[tuple[tuple[float, float], int]]]] = [
    ((1280, 720), [(LOGO, 12), (HEADLINE, 10), (BUTTON, 8)]),
    ((1280, 720), [(HEADLINE, 14), (LOGO, 9)]),
    ((1280, 720), [(HEADLINE, 10), (NOWHERE, 12)]),
    ((1920, 1080), [(LOGO, 10), (BUTTON, 12)]),  # the stimulus stretched over a bigger screen
]
# % of viewers with a fixation in each AOI
EXPECTED_VIEWERS_PCT = {"logo": 75.0, "headline": 75.0, "button": 50.0}


def stimulus_png() -> bytes:
    img = np.full((STIM_H, STIM_W, 3), 235, np.uint8)
    for a in AOIS:
        if a["kind"] == "rect":
            cv2.rectangle(
                img, (a["x_px"], a["y_px"]), (a["x_px"] + a["w_px"], a["y_px"] + a["h_px"]), (60, 90, 160), -1
            )
        else:
            cv2.fillPoly(img, [np.array(a["points_px"], np.int32)], (40, 160, 70))
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def viewer_points(
    screen: tuple[int, int], plan: list[tuple[tuple[float, float], int]], t0: float = 1000.0
) -> tuple[list[dict[str, Any]], list[tuple[float, float, float, float]]]:
    """Gaze points of one viewer and the fixations they contain: (start_ms, end_ms, x_px, y_px) in
    screen px."""
    sx, sy = screen[0] / STIM_W, screen[1] / STIM_H
    points: list[dict[str, Any]] = []
    fixations = []
    t = t0
    prev = None
    for (x, y), n in plan:
        x, y = x * sx, y * sy
        if prev is not None:  # one saccade point half-way
            points.append({"t_ms": t, "x_px": (prev[0] + x) / 2, "y_px": (prev[1] + y) / 2})
            t += DT_MS
        start = t
        for k in range(n - n % 2):
            j = 2.0 if k % 2 == 0 else -2.0
            points.append({"t_ms": t, "x_px": x + j, "y_px": y - j})
            t += DT_MS
        fixations.append((start, t - DT_MS, x, y))
        prev = (x, y)
    return points, fixations


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(db_path=tmp_path / "analytics.db", profiles_dir=tmp_path / "profiles")
    with TestClient(create_app(settings)) as c:
        yield c


def png_of(resp) -> Image.Image:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "image/png"
    im = Image.open(io.BytesIO(resp.content))
    im.load()
    return im


def make_stimulus(client: TestClient) -> str:
    r = client.post(
        "/api/stimuli",
        files={"file": ("page.png", stimulus_png(), "image/png")},
        data={"name": "landing page"},
    )
    assert r.status_code == 201, r.text
    stim = r.json()
    assert (stim["width_px"], stim["height_px"], stim["name"], stim["format"]) == (
        STIM_W,
        STIM_H,
        "landing page",
        "png",
    )
    r = client.put(f"/api/stimuli/{stim['id']}/aois", json={"aois": AOIS})
    assert r.status_code == 200, r.text
    return stim["id"]


def record_viewers(client: TestClient, stimulus_id: str) -> list[tuple[str, list]]:
    """Create, feed (two batches each) and end one session per viewer; returns (id, fixations)."""
    out = []
    for k, (screen, plan) in enumerate(VIEWERS):
        r = client.post(
            "/api/sessions",
            json={
                "user_id": f"user{k % 2}",
                "label": f"viewer {k}",
                "stimulus_id": stimulus_id,
                "screen_w_px": screen[0],
                "screen_h_px": screen[1],
            },
        )
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        points, fixations = viewer_points(screen, plan)
        half = len(points) // 2
        for batch in (points[:half], points[half:]):
            r = client.post(f"/api/sessions/{sid}/gaze", json={"points": batch})
            assert r.status_code == 200, r.text
            assert r.json()["accepted"] == len(batch)
        assert r.json()["sample_count"] == len(points)
        out.append((sid, fixations))
    return out


def check_core_flow(client: TestClient) -> None:
    stimulus_id = make_stimulus(client)
    sessions = record_viewers(client, stimulus_id)

    # events equal the hand-placed fixations
    for sid, expected in sessions:
        ev = client.get(f"/api/sessions/{sid}/events").json()
        got = [(f["start_ms"], f["end_ms"], f["x_px"], f["y_px"]) for f in ev["fixations"]]
        assert len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            assert g == pytest.approx(e, abs=1e-6)
        assert len(ev["saccades"]) == len(expected) - 1
        assert ev["blinks"] == []

    # ending builds the report with fixations and the AOI table
    sid0, fix0 = sessions[0]
    rep = client.post(f"/api/sessions/{sid0}/end").json()
    assert rep["has_gaze"] is True and rep["fixation_count"] == len(fix0)
    aois = {a["name"]: a for a in rep["aois"]}
    assert aois["logo"]["fixated"] and aois["headline"]["fixated"] and aois["button"]["fixated"]
    assert aois["logo"]["ttff_ms"] == pytest.approx(0.0)
    assert aois["logo"]["dwell_ms"] == pytest.approx(fix0[0][1] - fix0[0][0])
    assert "attention_timeline" in rep and "blink_rate_per_min" in rep
    assert rep["focus_pct"] == pytest.approx(100.0)  # every client point was on the screen
    for sid, _ in sessions[1:]:
        assert client.post(f"/api/sessions/{sid}/end").status_code == 200

    # per-session figures: decodable, stimulus-sized
    for sid, _ in sessions:
        for name in ("heatmap.png", "scanpath.png", "trail.png", "heatmap.png?overlay=1"):
            im = png_of(client.get(f"/api/sessions/{sid}/{name}"))
            assert im.size == (STIM_W, STIM_H), name

    # aggregate heatmap of all viewers, and of two chosen ones
    r = client.get(f"/api/stimuli/{stimulus_id}/heatmap.png")
    assert png_of(r).size == (STIM_W, STIM_H)
    assert r.headers["x-gazescope-sessions"] == str(len(sessions))
    two = ",".join(s for s, _ in sessions[:2])
    r = client.get(f"/api/stimuli/{stimulus_id}/heatmap.png", params={"sessions": two})
    assert r.headers["x-gazescope-sessions"] == "2"

    # aggregate report: % viewers per AOI as placed
    agg = client.get(f"/api/stimuli/{stimulus_id}/report").json()
    assert agg["kind"] == "aggregate" and agg["n_sessions"] == len(sessions)
    assert {a["name"]: a["viewers_pct"] for a in agg["aois"]} == EXPECTED_VIEWERS_PCT


def test_stimulus_aggregate_flow_sqlite(client: TestClient) -> None:
    check_core_flow(client)


def test_stimulus_aggregate_flow_redis(redis_server: str, tmp_path: Path) -> None:
    settings = Settings(redis_url=redis_server, profiles_dir=tmp_path / "profiles")
    with TestClient(create_app(settings)) as c:
        check_core_flow(c)


def test_transparent_heatmap_is_hot_on_looked_at_aois(client: TestClient) -> None:
    stimulus_id = make_stimulus(client)
    record_viewers(client, stimulus_id)
    im = png_of(client.get(f"/api/stimuli/{stimulus_id}/heatmap.png", params={"transparent": 1}))
    assert im.mode == "RGBA" and im.size == (STIM_W, STIM_H)
    alpha = np.asarray(im)[..., 3]
    for x, y in (LOGO, HEADLINE, BUTTON):
        assert alpha[int(y), int(x)] > 100, (x, y)
    assert alpha[700, 1260] == 0  # nobody looked at the bottom-right corner
    assert alpha[30, 640] == 0


def test_report_html_csv_and_pymovements_exports(client: TestClient) -> None:
    stimulus_id = make_stimulus(client)
    sessions = record_viewers(client, stimulus_id)
    sid, fixations = sessions[0]

    page = client.get(f"/api/sessions/{sid}/report.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count("data:image/png;base64,") >= 4  # timeline, heatmap, scanpath, trail
    assert "Areas of interest" in page.text and "logo" in page.text

    csv_text = client.get(f"/api/sessions/{sid}/events", params={"format": "csv"}).text
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("start_ms,end_ms,duration_ms,x_px,y_px")
    assert len(lines) == 1 + len(fixations)
    sac = client.get(f"/api/sessions/{sid}/events", params={"format": "csv", "kind": "saccades"}).text
    assert len(sac.strip().splitlines()) == len(fixations)  # header + n-1 saccades

    pm = client.get(f"/api/sessions/{sid}/export/pymovements.csv")
    assert pm.status_code == 200
    rows = pm.text.strip().splitlines()
    assert rows[0] == "time,x_px,y_px"
    points, _ = viewer_points(*VIEWERS[0])
    assert len(rows) == 1 + len(points)

    agg_page = client.get(f"/api/stimuli/{stimulus_id}/report.html")
    assert agg_page.status_code == 200 and "data:image/png;base64," in agg_page.text
    assert "Stimulus report" in agg_page.text

    ivt = client.get(f"/api/sessions/{sid}/events", params={"method": "ivt"}).json()
    assert ivt["method"] == "ivt" and len(ivt["fixations"]) == len(fixations)


def test_user_heatmap_covers_the_users_sessions(client: TestClient) -> None:
    stimulus_id = make_stimulus(client)
    record_viewers(client, stimulus_id)
    r = client.get("/api/users/user1/heatmap.png")  # viewers 1 and 3 (different screens, one stimulus)
    assert png_of(r).size == (STIM_W, STIM_H)
    assert r.headers["x-gazescope-sessions"] == "2"
    # a user without a stimulus in common: drawn on the most common screen
    sid = client.post(
        "/api/sessions", json={"user_id": "solo", "screen_w_px": 800, "screen_h_px": 600}
    ).json()["id"]
    pts, _ = viewer_points((800, 600), [((400.0, 300.0), 10)])
    assert client.post(f"/api/sessions/{sid}/gaze", json={"points": pts}).status_code == 200
    assert png_of(client.get("/api/users/solo/heatmap.png")).size == (800, 600)
    assert client.get("/api/users/nobody/heatmap.png").status_code == 404
