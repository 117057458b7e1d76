"""The profile repository on every Store (SQLite file and real Redis; see conftest.py), and profile files
in a folder, including a 'restart' (a new store on the same dir)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gazescope.calibration.profile import FittedCalibration
from gazescope.config import Settings
from gazescope.domain import SessionInfo
from gazescope.errors import CalibrationError, ProfileNotFoundError, ValidationError
from gazescope.storage import Store
from gazescope.storage.profiles import PROFILES, ProfileRepository, ProfileStore, sanitise_name

from ..calibration.conftest import _synthetic_ff, fitted_calibration, gaze_for_target

W, H = 1600, 900


@pytest.fixture(name="make_ff")
def _make_ff():
    return _synthetic_ff


@pytest.fixture(name="gaze_of")
def _gaze_of():
    return gaze_for_target


@pytest.fixture(name="fitted")
def _fitted() -> FittedCalibration:
    return fitted_calibration()


# --- the repository on a Store ---------------------------------------------------------------------------


def test_save_get_list_delete(store: Store, fitted: FittedCalibration, make_ff, gaze_of) -> None:
    repo = ProfileRepository(store)
    doc = repo.save(fitted, source_session_id="s-1")
    assert (doc.id, doc.user_id, doc.mapper, doc.source_session_id) == (
        fitted.profile_id,
        "ana",
        "ridge",
        "s-1",
    )
    assert (doc.screen_w_px, doc.screen_h_px, doc.grade) == (W, H, fitted.accuracy["grade"])
    assert "session_id" not in store.get_document(PROFILES, fitted.profile_id)  # not linked to a session
    got = repo.get(fitted.profile_id)
    assert got.to_dict() == doc.to_dict()
    assert "profile" not in got.summary() and got.summary()["id"] == fitted.profile_id
    ff = make_ff(*gaze_of(300, 700, W, H))
    assert got.calibration().predict_screen(ff) == pytest.approx(fitted.predict_screen(ff))
    assert repo.exists(fitted.profile_id) and not repo.exists("other")
    assert [d.id for d in repo.list("ana")] == [fitted.profile_id]
    assert repo.list("nobody") == []
    repo.delete(fitted.profile_id)
    with pytest.raises(ProfileNotFoundError):
        repo.get(fitted.profile_id)
    with pytest.raises(ProfileNotFoundError):
        repo.delete(fitted.profile_id)


def test_latest_prefers_the_screen_size(store: Store, fitted: FittedCalibration) -> None:
    repo = ProfileRepository(store)
    with pytest.raises(ProfileNotFoundError, match="ana"):
        repo.latest("ana")
    repo.save(replace(fitted, profile_id="p-old", created_at_ms=1.0))
    repo.save(
        replace(fitted, profile_id="p-other-screen", created_at_ms=3.0, screen_w_px=1280, screen_h_px=800)
    )
    repo.save(replace(fitted, profile_id="p-mid", created_at_ms=2.0))
    assert [d.id for d in repo.list("ana")] == ["p-other-screen", "p-mid", "p-old"]
    assert repo.latest("ana").id == "p-other-screen"
    assert repo.latest("ana", W, H).id == "p-mid"
    assert repo.latest("ana", 640, 480).id == "p-other-screen"  # none on that size: the newest


def test_latest_skips_profiles_that_failed_the_quality_gate_until_accepted(
    store: Store, fitted: FittedCalibration
) -> None:
    repo = ProfileRepository(store)
    repo.save(replace(fitted, profile_id="p-good", created_at_ms=1.0))
    doc = repo.save(replace(fitted, profile_id="p-poor", created_at_ms=2.0), accepted=False)
    assert doc.accepted is False and doc.summary()["accepted"] is False
    assert [d.id for d in repo.list("ana")] == ["p-poor", "p-good"]  # listed, with the flag
    assert repo.latest("ana").id == "p-good" and repo.latest("ana", W, H).id == "p-good"
    kept = repo.accept("p-poor")
    assert kept.accepted is True and repo.get("p-poor").accepted is True
    assert repo.latest("ana", W, H).id == "p-poor"
    with pytest.raises(ProfileNotFoundError):
        repo.accept("missing")


def test_a_user_whose_only_profile_failed_the_gate_has_none_to_reuse(
    store: Store, fitted: FittedCalibration
) -> None:
    repo = ProfileRepository(store)
    repo.save(fitted, accepted=False)
    with pytest.raises(ProfileNotFoundError, match="accepted"):
        repo.latest("ana")


def test_documents_stored_before_the_gate_read_as_accepted(store: Store, fitted: FittedCalibration) -> None:
    repo = ProfileRepository(store)
    old = repo.save(fitted).to_dict()
    del old["accepted"]
    store.put_document(PROFILES, fitted.profile_id, old)
    assert repo.get(fitted.profile_id).accepted is True and repo.latest("ana").id == fitted.profile_id


@pytest.mark.parametrize(
    "profile_id",
    [
        pytest.param("../../etc/passwd", id="path"),
        pytest.param("", id="empty"),
        pytest.param("x" * 129, id="long"),
    ],
)
def test_bad_ids_are_refused_on_save_and_not_found_on_lookup(
    store: Store, fitted: FittedCalibration, profile_id: str
) -> None:
    repo = ProfileRepository(store)
    with pytest.raises(ValidationError, match="profile id"):
        repo.save(replace(fitted, profile_id=profile_id))
    with pytest.raises(ProfileNotFoundError):
        repo.get(profile_id)
    assert store.list_documents(PROFILES) == []


def test_a_stored_document_without_a_profile_is_a_calibration_error(store: Store) -> None:
    store.put_document(PROFILES, "bare", {"id": "bare", "profile_id": "bare"})
    with pytest.raises(CalibrationError, match="no 'profile'"):
        ProfileRepository(store).get("bare").calibration()


def test_records_are_linked_to_their_session(store: Store, fitted: FittedCalibration) -> None:
    repo = ProfileRepository(store)
    store.create_session(SessionInfo(id="s-rec", created_at_ms=1.0))
    repo.save(fitted, source_session_id="s-rec")
    rec = repo.record("s-rec", "applied", profile_id=fitted.profile_id, accuracy={"mean_error_px": 12.0})
    assert rec["kind"] == "applied" and rec["id"].startswith("applied-") and rec["created_at_ms"] > 0
    assert repo.records("s-rec") == [rec]
    store.delete_session("s-rec")
    assert repo.records("s-rec") == []
    assert repo.exists(fitted.profile_id)  # the person's profile outlives the session


# --- profile files ---------------------------------------------------------------------------------------


def test_store_survives_a_restart(tmp_path, fitted, make_ff, gaze_of) -> None:
    settings = Settings(profiles_dir=tmp_path / "profiles")
    store = ProfileStore(settings)
    pid = store.save(fitted)
    assert [i.profile_id for i in store.list("ana")] == [pid]

    restarted = ProfileStore(settings)  # a new instance on the same folder, as after a server restart
    loaded = restarted.load(pid)
    ff = make_ff(*gaze_of(1200, 200, W, H))
    assert loaded.predict_screen(ff) == pytest.approx(fitted.predict_screen(ff))
    assert restarted.latest("ana").profile_id == pid
    restarted.delete(pid)
    with pytest.raises(ProfileNotFoundError):
        restarted.load(pid)
    with pytest.raises(ProfileNotFoundError):
        store.latest("ana")


def test_latest_and_unsafe_names(tmp_path, fitted) -> None:
    from dataclasses import replace

    store = ProfileStore(tmp_path)
    older = replace(fitted, profile_id="old", created_at_ms=1.0)
    newer = replace(fitted, profile_id="new", created_at_ms=2.0)
    store.save(older, user_id="../../etc/passwd")
    store.save(newer, user_id="../../etc/passwd")
    assert all(p.parent == tmp_path for p in tmp_path.iterdir())
    assert store.latest("../../etc/passwd").profile_id == "new"
    assert sanitise_name("a b/c") == "a_b_c"
    assert np.isfinite(store.list()[0].created_at_ms)
