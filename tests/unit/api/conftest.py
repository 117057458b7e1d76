"""In-process API tests (Starlette's TestClient): its WebSocket requests always carry ``Host: testserver``,
so these tests add that name to the trusted hosts. Host checking itself is tested in
test_api_validation.py with explicit settings."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _testclient_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAZESCOPE_TRUSTED_HOSTS", "localhost,127.0.0.1,testserver")
