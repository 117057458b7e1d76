"""Calibration REST API on the real app (Starlette TestClient, real lifespan, real SQLite file): layouts,
profiles posted, listed, fetched, deleted; bad profiles refused; profiles survive a new app instance."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from fastapi.testclient import TestClient

from gazescope.calibration.features import FEATURE_NAMES, N_FEATURES
from gazescope.calibration.mappers import create_mapper
from gazescope.calibration.profile import FittedCalibration


def fitted_profile(
    user_id: str | None = "u1", w: int = 1920, h: int = 1080, seed: int = 0
) -> FittedCalibration:
    """A ridge calibration fitted on a synthetic linear mapping (iris x -> screen x, iris y -> screen y)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 0.05, size=(9, N_FEATURES))
    ix, iy, lid = (FEATURE_NAMES.index(n) for n in ("iris_x", "iris_y", "lid_upper_y"))
    Y = np.column_stack([w / 2 + X[:, ix] * 8000, h / 2 + X[:, iy] * 5000 + X[:, lid] * 1000])
    mapper = create_mapper("ridge").fit(X, Y)
    return FittedCalibration(
        mapper=mapper,
        screen_w_px=w,
        screen_h_px=h,
        accuracy={"mean_error_px": 120.0, "mean_error_pct_width": 6.25, "grade": "good"},
        head_range={"yaw_deg": [-5.0, 5.0]},
        user_id=user_id,
        layout="9",
    )


def test_layouts_list_grids_pursuit_and_mappers(client: TestClient) -> None:
    r = client.get("/api/calibration/layouts")
    assert r.status_code == 200, r.text
    body = r.json()
    by_name = {lay["name"]: lay for lay in body["layouts"]}
    assert sorted(by_name) == ["13", "16", "5", "9"]
    assert (by_name["9"]["n_points"], by_name["9"]["n_validation"]) == (9, 4)
    assert by_name["16"]["n_points"] == 16
    assert "pursuit" in body["layout_names"]
    assert "ridge" in body["mappers"]
    assert body["default_mapper"] == "ridge"
    assert body["samples_per_target"] >= 1


def test_profile_post_list_get_delete(client: TestClient) -> None:
    cal = fitted_profile("u1")
    r = client.post("/api/profiles", json=cal.to_dict())
    assert r.status_code == 201, r.text
    summary = r.json()
    assert summary["id"] == cal.profile_id
    assert (summary["user_id"], summary["mapper"], summary["grade"]) == ("u1", "ridge", "good")
    assert "profile" not in summary

    other = fitted_profile("u2", seed=1)
    assert client.post("/api/profiles", json=other.to_dict()).status_code == 201

    listed = client.get("/api/profiles", params={"user_id": "u1"}).json()
    assert [p["id"] for p in listed] == [cal.profile_id]
    assert {p["id"] for p in client.get("/api/profiles").json()} == {cal.profile_id, other.profile_id}

    doc = client.get(f"/api/profiles/{cal.profile_id}").json()
    back = FittedCalibration.from_dict(doc["profile"])
    x = np.random.default_rng(5).normal(0, 0.05, size=(4, N_FEATURES))
    np.testing.assert_allclose(back.mapper.predict(x), cal.mapper.predict(x))

    # the same id again is a conflict; the document form re-imported under a new id with a new user works
    assert client.post("/api/profiles", json=cal.to_dict()).status_code == 409
    doc["profile"]["profile_id"] = "imported-1"
    doc["user_id"] = "u3"
    r = client.post("/api/profiles", json=doc)
    assert r.status_code == 201, r.text
    assert (r.json()["id"], r.json()["user_id"]) == ("imported-1", "u3")

    assert client.delete(f"/api/profiles/{cal.profile_id}").status_code == 204
    r = client.get(f"/api/profiles/{cal.profile_id}")
    assert r.status_code == 404
    assert r.json()["code"] == "profile_not_found"
    assert client.delete(f"/api/profiles/{cal.profile_id}").status_code == 404
    assert client.get("/api/profiles", params={"user_id": "u1"}).json() == []


def test_bad_profiles_are_refused_with_a_reason(client: TestClient) -> None:
    good = fitted_profile().to_dict()
    cases = {
        "version": {**good, "version": 99},
        "features": {**good, "feature_names": ["iris_x"]},
        "mapper": {**good, "mapper": {**good["mapper"], "name": "no-such-mapper"}},
        "id": {**good, "profile_id": "../../etc/passwd"},
    }
    for what, body in cases.items():
        r = client.post("/api/profiles", json=body)
        assert r.status_code == 422, (what, r.text)
        assert r.json()["detail"], what
    r = client.post("/api/profiles", json=cases["mapper"])
    assert "ridge" in r.json()["detail"]  # the unknown-mapper message lists the available ones
    assert client.get("/api/profiles").json() == []


def test_profile_id_is_filled_in_when_missing(client: TestClient) -> None:
    d = fitted_profile().to_dict()
    del d["profile_id"], d["created_at_ms"]
    r = client.post("/api/profiles", json=d, params={"user_id": "someone"})
    assert r.status_code == 201, r.text
    assert r.json()["id"] and r.json()["user_id"] == "someone"


def test_profiles_survive_a_new_app_on_the_same_database(make_client: Callable[..., TestClient]) -> None:
    cal = fitted_profile("persist")
    with make_client() as c:
        assert c.post("/api/profiles", json=cal.to_dict()).status_code == 201
    with make_client() as c:
        listed = c.get("/api/profiles", params={"user_id": "persist"}).json()
        assert [p["id"] for p in listed] == [cal.profile_id]
        assert c.get(f"/api/profiles/{cal.profile_id}").json()["profile"]["mapper"]["name"] == "ridge"


def test_profiles_that_would_break_tracking_are_refused_with_422(client: TestClient) -> None:
    good = fitted_profile().to_dict()
    axes = [dict(ax) for ax in good["mapper"]["axes"]]
    axes[1]["intercept"] = "abc"
    cases = {
        "zero screen": ({**good, "screen_w_px": 0}, "screen"),
        "unfitted mapper": ({**good, "mapper": {**good["mapper"], "axes": None}}, "not fitted"),
        "string intercept": ({**good, "mapper": {**good["mapper"], "axes": axes}}, "ridge"),
    }
    for what, (body, reason) in cases.items():
        r = client.post("/api/profiles", json=body)
        assert r.status_code == 422, (what, r.text)
        assert r.json()["code"] == "bad_profile", what
        assert reason in r.json()["detail"], (what, r.text)
    assert client.get("/api/profiles").json() == []


def test_a_profile_whose_summary_fields_are_not_of_their_type_is_refused(client: TestClient) -> None:
    d = fitted_profile().to_dict()
    r = client.post("/api/profiles", json={**d, "layout": {"name": "9"}})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "bad_profile" and "layout" in r.json()["detail"]
    assert client.get("/api/profiles").json() == []
