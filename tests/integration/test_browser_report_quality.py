"""The app's report view shows the data-quality card (issue 19) and the activity band, in real Chromium
against a real ``gazescope serve``: a session streamed at 3.7 FPS (19 desk-video frames about 0.27 s
apart) is shown failed on its effective frame rate. The screenshot goes to
``test-artifacts/browser/report_quality_1280x900.png`` (gitignored)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"


def slow_session(url: str, frames: list[bytes]) -> str:
    from websockets.sync.client import connect

    sid = httpx.post(f"{url}/api/sessions", json={"label": "slow"}).json()["id"]
    ws_url = url.replace("http://", "ws://") + f"/ws/sessions/{sid}/track"
    with connect(ws_url, max_size=None) as ws:
        json.loads(ws.recv())
        for i, jpeg in enumerate(frames):
            if i:
                time.sleep(5.2 / 19)
            ws.send(jpeg)
            assert json.loads(ws.recv())["type"] == "sample"
    httpx.post(f"{url}/api/sessions/{sid}/end", timeout=60).raise_for_status()
    return sid


def test_the_report_view_flags_a_session_at_3_7_fps(server, desk_jpegs, chromium):
    sid = slow_session(server.url, desk_jpegs[:19])
    ctx = chromium.new_context(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page = ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{server.url}/app/#/report/{sid}")
        page.wait_for_selector("#view-report[data-loaded='1']", timeout=60_000)
        assert page.is_visible("#report-quality-panel")
        assert page.get_attribute("#report-quality-verdict", "data-status") == "fail"
        assert page.inner_text("#report-quality-verdict") == "FAIL"
        row = page.locator("#report-quality tr[data-check='effective_fps']")
        assert row.locator("td.check").get_attribute("data-status") == "fail"
        assert "19 frames in" in row.inner_text()
        assert "Failed: effective fps" in page.inner_text("#report-quality-note")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report_quality_1280x900.png"), full_page=True)
    finally:
        ctx.close()
    assert errors == []
