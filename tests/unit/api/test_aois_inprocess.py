"""AOIs through the REST API on the real app in-process (issue 19): the typed AOI schema and its readable
errors, reports that follow the stimulus' current AOIs, and aggregate AOI figures that leave out the
sessions without screen gaze (saying how many and why)."""

from __future__ import annotations

import io

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from support.api import new_session
from support.gaze_plans import AOIS, LEFT, RIGHT, H, W, points


def _stimulus(client: TestClient) -> str:
    buf = io.BytesIO()
    Image.fromarray(np.full((H, W, 3), 200, np.uint8)).save(buf, format="PNG")
    r = client.post("/api/stimuli", files={"file": ("s.png", buf.getvalue(), "image/png")})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _viewer(client: TestClient, stim: str, plan, **fields) -> str:
    sid = new_session(client, stimulus_id=stim, screen_w_px=W, screen_h_px=H, **fields)
    if plan:
        assert client.post(f"/api/sessions/{sid}/gaze", json={"points": points(plan)}).status_code == 200
    assert client.post(f"/api/sessions/{sid}/end").status_code == 200
    return sid


def test_aois_defined_after_the_session_ended_have_figures_in_its_report(client: TestClient) -> None:
    stim = _stimulus(client)
    sid = _viewer(client, stim, [LEFT, RIGHT])
    assert "aois" not in client.get(f"/api/sessions/{sid}/report").json()  # none yet at the end
    assert client.put(f"/api/stimuli/{stim}/aois", json={"aois": AOIS}).status_code == 200
    rep = client.get(f"/api/sessions/{sid}/report").json()
    figures = {a["name"]: a for a in rep["aois"]}
    assert set(figures) == {"left", "right"}
    assert figures["left"]["fixated"] and figures["right"]["fixated"]
    assert figures["left"]["ttff_ms"] < figures["right"]["ttff_ms"]
    assert figures["left"]["dwell_ms"] > 300 and figures["left"]["sample_dwell_ms"] > 300
    page = client.get(f"/api/sessions/{sid}/report.html").text
    assert "Areas of interest" in page and ">right<" in page

    # changed AOIs: the report follows; removed AOIs: no AOI table
    only_right = [AOIS[1]]
    assert client.put(f"/api/stimuli/{stim}/aois", json={"aois": only_right}).status_code == 200
    assert [a["name"] for a in client.get(f"/api/sessions/{sid}/report").json()["aois"]] == ["right"]
    assert client.put(f"/api/stimuli/{stim}/aois", json={"aois": []}).status_code == 200
    assert "aois" not in client.get(f"/api/sessions/{sid}/report").json()


def test_aggregate_aoi_figures_count_only_sessions_with_screen_gaze(client: TestClient) -> None:
    stim = _stimulus(client)
    assert client.put(f"/api/stimuli/{stim}/aois", json={"aois": AOIS}).status_code == 200
    _viewer(client, stim, [LEFT, RIGHT], user_id="ann", label="pilot")
    _viewer(client, stim, [LEFT], user_id="bob", label="pilot")
    no_gaze = _viewer(client, stim, [], user_id="cy", label="pilot")  # never calibrated: no screen point
    rep = client.get(f"/api/stimuli/{stim}/report").json()
    aois = {a["name"]: a for a in rep["aois"]}
    assert (aois["left"]["n_sessions"], aois["left"]["n_viewers"], aois["left"]["viewers_pct"]) == (
        2,
        2,
        100.0,
    )
    assert aois["right"]["viewers_pct"] == 50.0
    assert aois["left"]["n_sessions_without_gaze"] == 1
    left_out = rep["sessions_without_gaze"]
    assert left_out["count"] == 1 and left_out["session_ids"] == [no_gaze] and left_out["reason"]
    # every session row says whose it is
    assert sorted((s["user_id"], s["label"]) for s in rep["sessions"]) == [
        ("ann", "pilot"), ("bob", "pilot"), ("cy", "pilot")
    ]  # fmt: skip
    page = client.get(f"/api/stimuli/{stim}/report.html").text
    assert "left out of the AOI figures" in page
    assert all(f">{u}<" in page for u in ("ann", "bob", "cy"))


def test_aois_are_typed_in_openapi_and_bad_ones_get_a_readable_422(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"RectAOI", "PolygonAOI"} <= set(schemas)
    assert {"x_px", "y_px", "w_px", "h_px", "start_s", "end_s"} <= set(schemas["RectAOI"]["properties"])
    assert "points_px" in schemas["PolygonAOI"]["properties"]

    stim = _stimulus(client)
    bad = {
        "AOI 1 is invalid (name 'b'): w_px:": [AOIS[0], {**AOIS[1], "name": "b", "w_px": 0}],
        "AOI 0 is invalid (name 'a'): h_px: required": [{"name": "a", "x_px": 1, "y_px": 1, "w_px": 5}],
        "x: extra field not allowed (a rect AOI takes name, kind, x_px": [
            {"name": "a", "x": 1, "y_px": 1, "x_px": 1, "w_px": 5, "h_px": 5}
        ],
        "kind must be 'rect' or 'polygon'": [{"name": "c", "kind": "circle"}],
        "points_px:": [{"name": "p", "kind": "polygon", "points_px": [[0, 0], [1, 1]]}],
        "end_s must be after start_s": [{**AOIS[0], "start_s": 2.0, "end_s": 1.0}],
    }
    for reason, aois in bad.items():
        r = client.put(f"/api/stimuli/{stim}/aois", json={"aois": aois})
        assert r.status_code == 422, r.text
        assert isinstance(r.json()["detail"], str) and reason in r.json()["detail"], r.json()
        assert r.json()["code"] == "invalid_aoi"
    for body, reason in (({}, "aois: required"), ({"aois": [], "x": 1}, "x: extra field not allowed")):
        r = client.put(f"/api/stimuli/{stim}/aois", json=body)
        assert r.status_code == 422 and reason in r.json()["detail"], r.json()
    assert client.get(f"/api/stimuli/{stim}/aois").json()["aois"] == []

    # payloads of existing clients: kind left out, nulls of the other shape, polygons
    ok = [
        {"name": "r", "x_px": 10, "y_px": 10, "w_px": 50, "h_px": 40},
        {"name": "n", "kind": "rect", "x_px": 0, "y_px": 0, "w_px": 5, "h_px": 5, "points_px": None},
        {"name": "p", "kind": "polygon", "points_px": [[0, 0], [100, 0], [50, 80]]},
    ]
    r = client.put(f"/api/stimuli/{stim}/aois", json={"aois": ok})
    assert r.status_code == 200, r.text
    stored = client.get(f"/api/stimuli/{stim}/aois").json()["aois"]
    assert stored[0] == {"name": "r", "kind": "rect", "x_px": 10, "y_px": 10, "w_px": 50, "h_px": 40}
    assert stored[2]["points_px"] == [[0, 0], [100, 0], [50, 80]]
