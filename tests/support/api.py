"""Helpers for in-process API tests (FastAPI's TestClient)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def new_session(client: TestClient, **fields: Any) -> str:
    """Create a session with ``fields`` through ``POST /api/sessions``; returns its id (asserts 201)."""
    r = client.post("/api/sessions", json=fields)
    assert r.status_code == 201, r.text
    return r.json()["id"]
