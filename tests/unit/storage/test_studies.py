"""Study and participant records on every Store (SQLite file, real Redis): saved, found by token hash,
listed in order, revoked on token change, deleted with their participants."""

from __future__ import annotations

import hashlib

import pytest

from gazescope.errors import NotFoundError, ValidationError


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _study(sid: str, created: float, token: str, **extra) -> dict:
    return {"id": sid, "created_at_ms": created, "token_hash": _hash(token), "name": sid, **extra}


def test_save_get_find_list(store):
    store.save_study(_study("a", 1.0, "ta"))
    store.save_study(_study("b", 2.0, "tb"))
    assert store.get_study("a")["name"] == "a"
    assert store.find_study_by_token_hash(_hash("tb"))["id"] == "b"
    assert store.find_study_by_token_hash(_hash("nope")) is None
    assert [s["id"] for s in store.list_studies()] == ["b", "a"]
    with pytest.raises(NotFoundError) as exc:
        store.get_study("zz")
    assert exc.value.code == "study_not_found"


def test_a_new_token_hash_revokes_the_old(store):
    store.save_study(_study("a", 1.0, "old"))
    store.save_study(_study("a", 1.0, "new", name="renamed"))
    assert store.find_study_by_token_hash(_hash("old")) is None
    assert store.find_study_by_token_hash(_hash("new"))["name"] == "renamed"
    store.save_study(_study("b", 2.0, "other"))
    with pytest.raises(ValidationError, match="another study"):
        store.save_study(_study("b", 2.0, "new"))


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"created_at_ms": 1.0, "token_hash": _hash("x")}, id="no-id"),
        pytest.param({"id": "a b", "created_at_ms": 1.0, "token_hash": _hash("x")}, id="bad-id"),
        pytest.param({"id": "a", "created_at_ms": "1", "token_hash": _hash("x")}, id="bad-created"),
        pytest.param({"id": "a", "created_at_ms": 1.0, "token_hash": "plain-token"}, id="not-a-hash"),
    ],
)
def test_malformed_study_records_are_refused(store, bad):
    with pytest.raises(ValidationError):
        store.save_study(bad)
    assert store.list_studies() == []


def test_participants_belong_to_their_study(store):
    store.save_study(_study("a", 1.0, "ta"))
    store.save_study(_study("b", 2.0, "tb"))
    store.save_participant("a", {"id": "p2", "created_at_ms": 20.0})
    store.save_participant("a", {"id": "p1", "created_at_ms": 10.0, "answers": {"group": "x"}})
    store.save_participant("a", {"id": "p1", "created_at_ms": 10.0, "answers": {"group": "y"}})
    assert [p["id"] for p in store.list_participants("a")] == ["p1", "p2"]
    assert store.get_participant("a", "p1")["answers"] == {"group": "y"}
    assert store.list_participants("b") == []
    with pytest.raises(NotFoundError) as exc:
        store.get_participant("b", "p1")
    assert exc.value.code == "participant_not_found"
    with pytest.raises(NotFoundError):
        store.save_participant("zz", {"id": "p1", "created_at_ms": 1.0})
    store.delete_study("a")
    assert store.list_participants("a") == []
    assert store.find_study_by_token_hash(_hash("ta")) is None
    with pytest.raises(NotFoundError):
        store.delete_study("a")
    assert [s["id"] for s in store.list_studies()] == ["b"]
