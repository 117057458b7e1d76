"""Every id the API takes is checked by one rule (issue 20, defect 6): a profile's own ``user_id`` is bounded
and must be a string, an id with a trailing newline is refused (a ``$`` pattern matched before it), and
the path ids of sessions, stimuli and profiles are held to the store's id rule. Real app in-process
(Starlette TestClient, real lifespan, real SQLite file)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError

from gazescope.storage.base import SESSION_ID_RE, check_session_id
from unit.api.test_calibration_rest import fitted_profile


def _detail(r) -> str:  # type: ignore[no-untyped-def]
    return str(r.json()["detail"])


def test_a_profiles_own_user_id_is_bounded(client: TestClient) -> None:
    """Before: 201, the 100,000 characters stored."""
    body = fitted_profile(user_id="x" * 100_000).to_dict()
    r = client.post("/api/profiles", json=body)
    assert r.status_code == 422, r.text[:300]
    assert "user_id" in _detail(r) and "256" in _detail(r)
    assert client.get("/api/profiles").json() == []


def test_a_profiles_integer_user_id_is_refused_not_turned_into_a_string(client: TestClient) -> None:
    """Before: 201 with ``"user_id": "12345"``."""
    body = {**fitted_profile().to_dict(), "user_id": 12345}
    r = client.post("/api/profiles", json=body)
    assert r.status_code == 422, r.text
    assert "user_id" in _detail(r) and "string" in _detail(r)
    assert client.get("/api/profiles").json() == []


@pytest.mark.parametrize("pid", ["evil\n", "evil\r", "", "a" * 129, "a/b"])
def test_a_bad_profile_id_is_refused(client: TestClient, pid: str) -> None:
    """Before: ``"evil\\n"`` was 201 (stored under an id with a newline)."""
    body = {**fitted_profile().to_dict(), "profile_id": pid}
    r = client.post("/api/profiles", json=body)
    assert r.status_code == 422, r.text
    assert "profile_id" in _detail(r)
    assert client.get("/api/profiles").json() == []


def test_a_wrapped_profile_document_checks_its_user_id_too(client: TestClient) -> None:
    wrapped = {"profile": fitted_profile().to_dict(), "user_id": "y" * 257}
    r = client.post("/api/profiles", json=wrapped)
    assert r.status_code == 422 and "user_id" in _detail(r), r.text


def test_a_good_profile_is_still_stored(client: TestClient) -> None:
    cal = fitted_profile(user_id="alice@example.org")
    r = client.post("/api/profiles", json=cal.to_dict())
    assert r.status_code == 201, r.text
    assert r.json()["user_id"] == "alice@example.org"


@pytest.mark.parametrize(
    "path",
    ["/api/sessions/evil%0A", "/api/profiles/evil%0A", "/api/stimuli/evil%0A", "/api/sessions/" + "a" * 129],
)
def test_path_ids_follow_the_id_rule(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 422, r.text
    assert "id" in _detail(r)


def test_session_body_ids_follow_the_rules(client: TestClient) -> None:
    for body in (
        {"stimulus_id": "evil\n"},
        {"user_id": "a\nb"},
        {"user_id": 7},
        {"calibration_id": "z" * 300},
    ):
        r = client.post("/api/sessions", json=body)
        assert r.status_code == 422, (body, r.text)
    assert client.post("/api/sessions", json={"user_id": "bob@example.org"}).status_code == 201


def test_the_id_types_and_the_store_rule_agree() -> None:
    from gazescope.domain import ResourceId, UserRef

    rid = TypeAdapter(ResourceId)
    uref = TypeAdapter(UserRef)
    for bad in ("evil\n", "", "a" * 129, "a b", "é"):
        with pytest.raises(ValidationError):
            rid.validate_python(bad)
        assert SESSION_ID_RE.match(bad) is None
    for bad_ref in ("a\nb", "", "x" * 257, 5):
        with pytest.raises(ValidationError):
            uref.validate_python(bad_ref)
    assert rid.validate_python("0f3a-b_c.d") == "0f3a-b_c.d" == check_session_id("0f3a-b_c.d")
    assert uref.validate_python("alice@example.org") == "alice@example.org"
