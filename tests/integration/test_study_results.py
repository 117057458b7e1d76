"""Issue 23, the researcher's figures on a real ``gazescope serve`` (API token; SQLite and Redis): progress with
each participant's data quality (one participant streams real webcam frames), the AOI table and heatmap of
a stimulus over the included participants, split by a participant field, and an exclusion that changes them.

Gaze of the other participants is posted as client gaze points (``/api/sessions/{id}/gaze``, researcher's
token) into the sessions their link opened: the test is about which participants count, not about tracking.
"""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile

import httpx
import pytest

from support.studies import as_participant, bearer, join, png, track

MASTER = "master-token-for-study-results-2c4f"

pytestmark = pytest.mark.integration

W, H = 640, 360
AOIS = [
    {"name": "left", "x_px": 0, "y_px": 0, "w_px": 320, "h_px": 360},
    {"name": "right", "x_px": 320, "y_px": 0, "w_px": 320, "h_px": 360},
]
SCREEN = {"screen_w_px": W, "screen_h_px": H}


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def server(request, module_serve):
    env = {"GAZESCOPE_API_TOKEN": MASTER, "GAZESCOPE_TOKEN_SECRET": "secret-for-study-results-19"}
    if request.param == "redis":
        env["GAZESCOPE_REDIS_URL"] = request.getfixturevalue("redis_server")
    return module_serve(**env)


def gaze(x: float, y: float, n: int = 60, t0: float = 5000.0) -> list[dict]:
    """``n`` points at 30 Hz fixating (x, y) with a 2 px jitter."""
    return [{"t_ms": t0 + i * 33.3, "x_px": x + (2 if i % 2 else -2), "y_px": y} for i in range(n)]


@pytest.fixture(scope="module")
def study(server, desk_jpegs):
    r = httpx.post(
        f"{server.url}/api/stimuli",
        headers=bearer(MASTER),
        files={"file": ("page.png", png(W, H), "image/png")},
    )
    stim = r.json()["id"]
    assert (
        httpx.put(
            f"{server.url}/api/stimuli/{stim}/aois", headers=bearer(MASTER), json={"aois": AOIS}
        ).status_code
        == 200
    )
    body = {
        "name": "two halves",
        "calibration": {"required": False},
        "stimuli": [{"stimulus_id": stim, "duration_s": 2}],
        "fields": [{"name": "group", "kind": "choice", "choices": ["A", "B"]}],
    }
    created = httpx.post(f"{server.url}/api/studies", headers=bearer(MASTER), json=body).json()
    tok = created["link"]["token"]
    people = {}
    # three viewers with gaze (two of group A on the left half, one of group B on the right), and one of
    # group B who streams real webcam frames without calibration (no screen gaze)
    for name, group, point in (
        ("a1", "A", (120, 180)),
        ("a2", "A", (200, 150)),
        ("b1", "B", (500, 200)),
        ("cam", "B", None),
    ):
        p = join(server.url, tok, group)
        me = as_participant(tok, p["participant_secret"])
        base = f"{server.url}/api/participate/participants/{p['participant_id']}"
        s = httpx.post(f"{base}/sessions", headers=me, json={"stimulus_id": stim, **SCREEN}).json()
        sid = s["session"]["id"]
        if point is None:
            url = f"{server.ws_url}{s['track_path']}?token={s['session_token']}"
            assert asyncio.run(track(url, desk_jpegs[:10])) == 10
        else:
            r = httpx.post(
                f"{server.url}/api/sessions/{sid}/gaze", headers=bearer(MASTER), json={"points": gaze(*point)}
            )
            assert r.status_code == 200, r.text
        assert httpx.post(f"{base}/sessions/{sid}/complete", headers=me).status_code == 200
        people[name] = p["participant_id"]
    return {"id": created["id"], "stim": stim, "people": people}


def aoi_row(table: dict, group_index: int, name: str) -> dict:
    return next(a for a in table["groups"][group_index]["aois"] if a["name"] == name)


def test_progress_and_quality(server, study):
    prog = httpx.get(f"{server.url}/api/studies/{study['id']}/progress", headers=bearer(MASTER)).json()
    assert (prog["started"], prog["completed"], prog["excluded"], prog["in_progress"]) == (4, 4, 0, 0)
    rows = {r["participant_id"]: r for r in prog["participants"]}
    cam = rows[study["people"]["cam"]]
    assert cam["frames"] == 10 and cam["face_share"] > 0.5 and cam["effective_fps"] > 0
    assert cam["dropped_frames"] == 0 and cam["calibration_error_px"] is None
    assert {c["name"] for c in cam["quality"]["checks"]} >= {
        "effective_fps",
        "face_share",
        "calibration_error",
    }
    a1 = rows[study["people"]["a1"]]
    assert a1["frames"] == 60 and a1["finished"] and not a1["excluded"]


def test_exclusion_changes_the_aggregate(server, study):
    base = f"{server.url}/api/studies/{study['id']}"
    aois = f"{base}/stimuli/{study['stim']}/aois"
    heat = f"{base}/stimuli/{study['stim']}/heatmap.png"
    before = httpx.get(aois, headers=bearer(MASTER)).json()
    assert before["groups"][0]["n_participants"] == 4 and len(set(before["groups"][0]["session_ids"])) == 4
    right, left = aoi_row(before, 0, "right"), aoi_row(before, 0, "left")
    assert (left["n_sessions"], left["n_viewers"], right["n_viewers"]) == (3, 2, 1)
    assert right["viewers_pct"] == pytest.approx(100 / 3, abs=0.1) and right["mean_ttff_ms"] is not None
    png_before = httpx.get(heat, headers=bearer(MASTER))
    assert png_before.status_code == 200 and png_before.headers["X-Gazescope-Sessions"] == "3"

    by_group = httpx.get(aois, headers=bearer(MASTER), params={"group_by": "group"}).json()
    assert [(g["group"], g["n_participants"]) for g in by_group["groups"]] == [("A", 2), ("B", 2)]
    assert (
        aoi_row(by_group, 0, "left")["viewers_pct"] == 100
        and aoi_row(by_group, 1, "right")["viewers_pct"] == 100
    )
    r = httpx.get(heat, headers=bearer(MASTER), params={"group_by": "group", "group": "B"})
    assert r.status_code == 200 and r.headers["X-Gazescope-Sessions"] == "1"
    r = httpx.get(aois, headers=bearer(MASTER), params={"group_by": "age"})
    assert r.status_code == 422 and "not a field" in r.text

    r = httpx.patch(
        f"{base}/participants/{study['people']['b1']}",
        headers=bearer(MASTER),
        json={"excluded": True, "reason": "glare"},
    )
    assert r.status_code == 200 and r.json()["excluded"] is True and r.json()["exclusion_reason"] == "glare"
    try:
        after = httpx.get(aois, headers=bearer(MASTER)).json()
        assert after["groups"][0]["n_participants"] == 3
        assert (
            aoi_row(after, 0, "right")["n_viewers"] == 0 and aoi_row(after, 0, "left")["viewers_pct"] == 100
        )
        png_after = httpx.get(heat, headers=bearer(MASTER))
        assert png_after.headers["X-Gazescope-Sessions"] == "2" and png_after.content != png_before.content
        r = httpx.get(heat, headers=bearer(MASTER), params={"group_by": "group", "group": "B"})
        assert r.status_code == 422 and r.json()["code"] == "no_gaze"
        prog = httpx.get(f"{base}/progress", headers=bearer(MASTER)).json()
        assert prog["excluded"] == 1 and prog["completed_included"] == 3
    finally:
        httpx.patch(
            f"{base}/participants/{study['people']['b1']}", headers=bearer(MASTER), json={"excluded": False}
        )
    assert aoi_row(httpx.get(aois, headers=bearer(MASTER)).json(), 0, "right")["n_viewers"] == 1


def read_csv(text: str) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_exports_open_with_their_columns(server, study):
    base = f"{server.url}/api/studies/{study['id']}/export"
    r = httpx.get(f"{base}/export.zip", headers=bearer(MASTER))
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(r.content))
    assert set(z.namelist()) == {
        "README.md",
        "study.json",
        "participants.csv",
        "aois.csv",
        "fixations.csv",
        "samples.csv",
    }
    readme = z.read("README.md").decode()
    keys = [
        "study_id",
        "participant_id",
        "excluded",
        "stimulus_index",
        "stimulus_id",
        "stimulus_name",
        "session_id",
    ]
    people = study["people"]

    header, aois = read_csv(z.read("aois.csv").decode())
    assert header == [*keys, "field_group", "has_gaze", "aoi", "fixated", "ttff_ms", "first_fixation_ms", "dwell_ms",
                      "dwell_pct", "sample_dwell_ms", "fixation_count", "visits", "revisits"]  # fmt: skip
    assert len(aois) == 3 * 2 + 1  # three viewers x two AOIs, and the webcam participant without gaze
    a1 = {r["aoi"]: r for r in aois if r["participant_id"] == people["a1"]}
    assert (
        a1["left"]["fixated"] == "true"
        and a1["right"]["fixated"] == "false"
        and a1["left"]["field_group"] == "A"
    )
    assert float(a1["left"]["dwell_ms"]) > 1000 and a1["left"]["ttff_ms"] != ""
    cam = [r for r in aois if r["participant_id"] == people["cam"]]
    assert len(cam) == 1 and cam[0]["has_gaze"] == "false" and cam[0]["aoi"] == ""
    assert httpx.get(f"{base}/aois.csv", headers=bearer(MASTER)).text == z.read("aois.csv").decode()

    header, fixations = read_csv(z.read("fixations.csv").decode())
    assert header == [*keys, "field_group", "fixation_index", "start_ms", "end_ms", "duration_ms", "x_px", "y_px",
                      "n_samples", "dispersion_px"]  # fmt: skip
    b1 = [r for r in fixations if r["participant_id"] == people["b1"]]
    assert b1 and all(float(r["x_px"]) > 320 for r in b1) and b1[0]["field_group"] == "B"

    header, samples = read_csv(z.read("samples.csv").decode())
    assert header[:8] == [*keys, "field_group"] and {"t_ms", "screen_x_px", "face_detected"} <= set(header)
    assert len(samples) == 3 * 60 + 10
    streamed = httpx.get(f"{base}/samples.csv", headers=bearer(MASTER))
    assert streamed.status_code == 200 and streamed.text == z.read("samples.csv").decode()

    header, parts = read_csv(z.read("participants.csv").decode())
    assert {
        "participant_id",
        "calibration_error_pct",
        "effective_fps",
        "face_share",
        "dropped_frames",
        "field_group",
    } <= set(header)
    assert len(parts) == 4
    for name in ("aois.csv", "fixations.csv", "participants.csv"):
        for col in read_csv(z.read(name).decode())[0]:
            assert f"| {col if not col.startswith('field_') else 'field_<name>'} |" in readme, (name, col)
    assert "token_hash" not in z.read("study.json").decode()
    assert httpx.get(f"{base}/export.zip", headers=bearer(MASTER.upper())).status_code == 401
