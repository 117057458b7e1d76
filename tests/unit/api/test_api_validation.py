"""App-wide error mapping: bad bodies are 422 with a reason (also NaN), unknown profiles 404."""

from __future__ import annotations


def test_nan_and_bad_bodies_are_422_with_a_reason(client):
    r = client.post(
        "/api/sessions", content='{"screen_w_px": NaN}', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "screen_w_px"]
    r = client.post("/api/sessions", json={"screen_w_px": "wide"})
    assert r.status_code == 422 and "screen_w_px" in r.text
    r = client.get("/api/profiles/none-such")
    assert r.status_code == 404 and r.json()["code"] == "profile_not_found"


def test_a_dns_rebinding_page_is_refused_on_a_loopback_server(make_client, monkeypatch):
    monkeypatch.delenv("GAZESCOPE_TRUSTED_HOSTS")  # the default: loopback names only
    # a page on evil.example rebinds its name to 127.0.0.1: its requests carry Host: evil.example
    with make_client(base_url="http://evil.example:8000") as client:
        r = client.get("/api/sessions", headers={"Origin": "http://evil.example:8000"})
        assert r.status_code == 400
    with make_client(base_url="http://localhost:8000") as client:
        assert client.get("/api/sessions").status_code == 200
    # exposed on purpose: any Host
    with make_client(base_url="http://gazescope.lan:8000", host="0.0.0.0") as client:
        assert client.get("/api/sessions").status_code == 200
