"""The study use cases on a real SQLite store: answers checked against the fields, a randomised order kept
per participant, the order and the calibration gate enforced, the link token found by its hash only."""

from __future__ import annotations

import pytest

from gazescope.config import Settings
from gazescope.domain import SessionInfo
from gazescope.errors import ValidationError
from gazescope.services import studies
from gazescope.services.studies import StudyAccessError, StudySpec, StudyStimulus

SETTINGS = Settings().studies


@pytest.fixture
def stims(make_stimulus, screen_png) -> list[str]:
    return [make_stimulus(screen_png).id for _ in range(6)]


def new_study(store, stims, **extra):
    spec = StudySpec(
        name="s",
        stimuli=[StudyStimulus(stimulus_id=s) for s in stims],
        fields=[
            {"name": "group", "kind": "choice", "choices": ["A", "B"]},
            {"name": "note", "required": False},
        ],
        **extra,
    )
    return studies.create_study(store, spec, SETTINGS)


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        pytest.param({}, "needs an answer", id="missing"),
        pytest.param({"group": "C"}, "not one of A, B", id="not-a-choice"),
        pytest.param({"group": "A", "age": "3"}, "unknown field", id="unknown"),
        pytest.param({"group": "A", "note": "x" * 2001}, "GAZESCOPE_STUDY_MAX_ANSWER_CHARS", id="too-long"),
    ],
)
def test_bad_answers_are_refused(store, stims, answers, reason):
    study, _ = new_study(store, stims[:1])
    with pytest.raises(ValidationError, match=reason):
        studies.check_answers(study, answers, SETTINGS)


def test_answers_are_trimmed_and_optional_ones_left_out(store, stims):
    study, _ = new_study(store, stims[:1])
    assert studies.check_answers(study, {"group": " B ", "note": ""}, SETTINGS) == {"group": "B"}


def test_the_token_is_stored_hashed_and_found_by_its_hash(store, stims):
    study, token = new_study(store, stims[:1])
    assert token.startswith("gsl1_") and token not in str(store.get_study(study["id"]))
    assert studies.study_of_link(store, token)["id"] == study["id"]
    for bad in (None, "", "gsl1_unknown", "not-a-link"):
        with pytest.raises(StudyAccessError) as exc:
            studies.study_of_link(store, bad)
        assert exc.value.status == 401


def test_a_random_order_is_a_permutation_kept_for_the_participant(store, stims):
    study, _ = new_study(store, stims, randomize=True)
    orders = []
    for _ in range(8):
        p, _secret = studies.add_participant(store, study, {"group": "A"}, SETTINGS)
        assert sorted(p["order"]) == sorted(stims)
        assert store.get_participant(study["id"], p["id"])["order"] == p["order"]
        orders.append(tuple(p["order"]))
    assert len(set(orders)) > 1  # 8 draws of 720 orders all equal: p = 720**-7


def test_order_and_gate_are_enforced(store, stims):
    study, _ = new_study(store, stims[:2], calibration={"required": True, "max_tries": 1})
    p, secret = studies.add_participant(store, study, {"group": "A"}, SETTINGS)
    with pytest.raises(StudyAccessError) as exc:
        studies.participant_of(store, study, p["id"], secret + "x")
    assert exc.value.status == 403
    p = studies.participant_of(store, study, p["id"], secret)
    with pytest.raises(StudyAccessError, match="not next"):
        studies.session_plan(study, p, stims[1])
    with pytest.raises(StudyAccessError, match="calibrate first"):
        studies.session_plan(study, p, stims[0])
    cal = SessionInfo(id="cal1", created_at_ms=1.0, screen_w_px=1000)
    p = studies.record_session(store, study, p, cal)
    out = studies.record_calibration(store, study, p, "cal1", 50.0, 1000, "prof")
    assert out["passed"] and out["error_pct"] == 5.0 and studies.passed_profile(p) == "prof"
    assert studies.session_plan(study, p, stims[0])["stimulus_id"] == stims[0]
    s1 = SessionInfo(id="s1", created_at_ms=2.0, stimulus_id=stims[0])
    p = studies.record_session(store, study, p, s1)
    with pytest.raises(StudyAccessError, match="calibration session is not a stimulus"):
        studies.mark_completed(store, study, p, "cal1")
    p = studies.mark_completed(store, study, p, "s1")
    prog = studies.progress(study, p)
    assert (
        prog["next"]["stimulus_id"] == stims[1] and prog["completed"] == [stims[0]] and not prog["finished"]
    )
    assert store.get_document(studies.STUDY_SESSIONS, "s1")["participant_id"] == p["id"]


def test_a_closed_study_refuses_new_participants(store, stims):
    study, _ = new_study(store, stims[:1])
    closed = studies.set_status(store, study["id"], "closed")
    with pytest.raises(StudyAccessError) as exc:
        studies.add_participant(store, closed, {"group": "A"}, SETTINGS)
    assert (exc.value.status, exc.value.code) == (410, "study_closed")


def test_a_stimulus_taken_out_of_the_study_is_skipped(store, stims):
    study, _ = new_study(store, stims[:3])
    p, _secret = studies.add_participant(store, study, {"group": "A"}, SETTINGS)
    p = studies.record_session(store, study, p, SessionInfo(id="s0", created_at_ms=1.0, stimulus_id=stims[0]))
    p = studies.mark_completed(store, study, p, "s0")
    update = studies.StudyUpdate(stimuli=[StudyStimulus(stimulus_id=s) for s in (stims[0], stims[2])])
    study = studies.update_study(store, study["id"], update, SETTINGS)
    prog = studies.progress(study, p)
    assert prog["next"]["stimulus_id"] == stims[2] and prog["total"] == 2
    with pytest.raises(StudyAccessError) as exc:
        studies.session_plan(study, p, stims[1])
    assert exc.value.code == "not_in_study"
    p = studies.record_session(store, study, p, SessionInfo(id="s2", created_at_ms=2.0, stimulus_id=stims[2]))
    assert studies.mark_completed(store, study, p, "s2")["finished_at_ms"] is not None
