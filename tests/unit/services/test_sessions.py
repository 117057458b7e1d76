"""services.sessions on a real SQLite store: a session with its samples, report and calibration accuracy;
the sessions of an aggregate; an analyze output folder read as a session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gazescope.analytics.export import samples_to_csv
from gazescope.errors import SessionNotFoundError, ValidationError
from gazescope.services import sessions
from support.gaze_plans import LEFT, RIGHT, H, W


def test_the_collection_names_are_the_profile_repositorys() -> None:
    from gazescope.storage import profiles

    assert sessions.CALIBRATIONS == profiles.RESULTS == "calibration_results"
    assert sessions.PROFILES == profiles.PROFILES == "calibration_profiles"


def test_a_session_loads_with_its_samples_and_screen(store, make_session) -> None:
    make_session("s1", [LEFT, RIGHT])
    data = sessions.load_session(store, "s1")
    assert len(data.samples) == 20 and data.report is None and data.calibration_accuracy_px is None
    assert data.screen_size_px == (float(W), float(H)) and data.has_gaze()
    make_session("s2", screen_w_px=None, screen_h_px=None)
    empty = sessions.load_session(store, "s2")
    assert empty.screen_size_px is None and not empty.has_gaze()
    with pytest.raises(SessionNotFoundError):
        sessions.load_session(store, "ghost")


@pytest.mark.parametrize(
    ("docs", "expected"),
    [
        pytest.param([], None, id="none-recorded"),
        pytest.param(
            [
                {"id": "a", "kind": "calibration", "created_at_ms": 1.0, "accuracy": {"mean_error_px": 80.0}},
                {"id": "b", "kind": "calibration", "created_at_ms": 2.0, "accuracy": {"mean_error_px": 60.0}},
            ],
            60.0,
            id="newest-calibration",
        ),
        pytest.param(
            [
                {"id": "a", "kind": "applied", "created_at_ms": 1.0, "mean_error_px": 70.0},
                {"id": "b", "kind": "drift", "created_at_ms": 2.0, "mean_error_px": 10.0},
            ],
            70.0,
            id="drift-checks-skipped",
        ),
    ],
)
def test_calibration_accuracy_comes_from_the_linked_results(store, make_session, docs, expected) -> None:
    info = make_session("s1", [LEFT])
    for d in docs:
        store.put_document(sessions.CALIBRATIONS, d["id"], {**d, "session_id": "s1"})
    assert sessions.calibration_accuracy_px(store, info, None) == expected
    assert sessions.calibration_accuracy_px(store, info, {"calibration_accuracy_px": 33.0}) == 33.0


def test_calibration_accuracy_from_the_sessions_profile_document(store, make_session) -> None:
    info = make_session("s1", [LEFT], calibration_id="p1")
    assert sessions.calibration_accuracy_px(store, info, None) is None
    store.put_document(sessions.PROFILES, "p1", {"id": "p1", "accuracy": {"mean_error_px": 95.5}})
    assert sessions.calibration_accuracy_px(store, info, None) == 95.5
    assert sessions.load_session(store, "s1").calibration_accuracy_px == 95.5


def test_selecting_sessions(store, make_session) -> None:
    make_session("a", [LEFT], stimulus_id="st", user_id="u1")
    make_session("b", [LEFT], stimulus_id="st", user_id="u2")
    make_session("c", [LEFT], user_id="u1")
    assert {i.id for i in sessions.select_sessions(store, stimulus_id="st")} == {"a", "b"}
    assert {i.id for i in sessions.select_sessions(store, user_id="u1")} == {"a", "c"}
    assert len(sessions.select_sessions(store, limit=2)) == 2
    listed = sessions.select_sessions(store, session_ids=["b", "a", "b"], stimulus_id="st")
    assert [i.id for i in listed] == ["b", "a"]
    with pytest.raises(ValidationError) as err:
        sessions.select_sessions(store, session_ids=["c"], stimulus_id="st")
    assert err.value.code == "session_not_on_stimulus"
    with pytest.raises(ValidationError, match="not of user"):
        sessions.select_sessions(store, session_ids=["b"], user_id="u1")
    with pytest.raises(SessionNotFoundError):
        sessions.select_sessions(store, session_ids=["ghost"])
    datas = sessions.load_sessions(store, listed)
    assert [d.info.id for d in datas] == ["b", "a"]


def test_an_analyze_folder_is_an_ended_session(store, make_session, tmp_path: Path) -> None:
    make_session("s1", [LEFT, RIGHT])
    folder = tmp_path / "run 1"
    folder.mkdir()
    (folder / "samples.csv").write_text(samples_to_csv(store.get_samples("s1")))
    (folder / "report.json").write_text(
        json.dumps({"screen_w_px": W, "screen_h_px": H, "calibration_accuracy_px": 50})
    )
    data = sessions.load_folder(folder)
    assert data.info.id == "run_1" and data.info.status == "ended" and len(data.samples) == 20
    assert data.screen_size_px == (float(W), float(H)) and data.calibration_accuracy_px == 50.0
    assert data.has_gaze()
    with pytest.raises(ValidationError, match=r"no samples\.csv"):
        sessions.load_folder(tmp_path)
    (folder / "report.json").write_text("{")
    with pytest.raises(ValidationError, match="not JSON"):
        sessions.load_folder(folder)
