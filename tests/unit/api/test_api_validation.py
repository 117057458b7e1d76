"""App-wide error mapping: bad bodies are 422 with a reason (also NaN), unknown profiles 404."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gazescope.api.app import create_app
from gazescope.config import Settings


def test_nan_and_bad_bodies_are_422_with_a_reason(tmp_path):
    with TestClient(create_app(Settings(db_path=tmp_path / "g.db"))) as client:
        r = client.post(
            "/api/sessions", content='{"screen_w_px": NaN}', headers={"content-type": "application/json"}
        )
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "screen_w_px"]
        r = client.post("/api/sessions", json={"screen_w_px": "wide"})
        assert r.status_code == 422 and "screen_w_px" in r.text
        r = client.get("/api/profiles/none-such")
        assert r.status_code == 404 and r.json()["code"] == "profile_not_found"


def test_a_dns_rebinding_page_is_refused_on_a_loopback_server(tmp_path, monkeypatch):
    monkeypatch.delenv("GAZESCOPE_TRUSTED_HOSTS")  # the default: loopback names only
    # a page on evil.example rebinds its name to 127.0.0.1: its requests carry Host: evil.example
    with TestClient(
        create_app(Settings(db_path=tmp_path / "g.db")), base_url="http://evil.example:8000"
    ) as client:
        r = client.get("/api/sessions", headers={"Origin": "http://evil.example:8000"})
        assert r.status_code == 400
    with TestClient(
        create_app(Settings(db_path=tmp_path / "g.db")), base_url="http://localhost:8000"
    ) as client:
        assert client.get("/api/sessions").status_code == 200
    open_settings = Settings(db_path=tmp_path / "g.db", host="0.0.0.0")  # exposed on purpose: any Host
    with TestClient(create_app(open_settings), base_url="http://gazescope.lan:8000") as client:
        assert client.get("/api/sessions").status_code == 200
