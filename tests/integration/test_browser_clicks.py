"""Issue 14 in real Chromium (fake camera playing the desk webcam video) against a real ``gazescope
serve``: in stimulus mode, a click on the stimulus is a calibration sample at the click point; the server
refits the calibration, and the samples recorded after the click name the refit in ``calibration_fit``
while those before it name the calibration profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from . import test_browser_app as app_tests
from .test_browser_app import LARGE, Pages, calibrate, record_stimulus, shot, start_tracking

# the browser fixtures of the app tests (a module-scoped Chromium with the fake camera)
playwright_driver = app_tests.playwright_driver
browser = app_tests.browser
fake_camera = app_tests.fake_camera
pages = app_tests.pages

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]


def test_browser_clicks_on_a_stimulus_refit_the_calibration(
    server: Any, pages: Pages, tmp_path: Path
) -> None:
    page = pages.open(server.url + "/app/", LARGE)
    start_tracking(page, "clicking-user")
    assert calibrate(page, "9") == "result"
    rec_id = record_stimulus(page, tmp_path, seconds=12)
    page.wait_for_timeout(2000)  # samples mapped by the profile first
    page.mouse.click(300, 200)
    page.wait_for_selector("#stimulus-layer[data-fit]", timeout=20_000)
    first_fit = page.get_attribute("#stimulus-layer", "data-fit")
    page.mouse.click(1500, 800)
    page.wait_for_function(
        f"document.querySelector('#stimulus-layer').dataset.fit !== {first_fit!r}", timeout=20_000
    )
    second_fit = page.get_attribute("#stimulus-layer", "data-fit")
    page.wait_for_timeout(1500)  # samples mapped by the second refit
    shot(page, "17_stimulus_click_refit")
    page.wait_for_selector("#view-report[data-loaded='1']", timeout=60_000)

    info = httpx.get(f"{server.url}/api/sessions/{rec_id}").json()
    pid = info["calibration_id"]
    assert pid and first_fit == f"{pid}+1" and second_fit == f"{pid}+2"
    samples = httpx.get(f"{server.url}/api/sessions/{rec_id}/samples").json()["samples"]
    fits = [s["calibration_fit"] for s in samples if s.get("calibration_fit")]
    order = [f for k, f in enumerate(fits) if k == 0 or f != fits[k - 1]]
    assert order == [pid, first_fit, second_fit]  # samples after each click use its refit
    assert fits.count(second_fit) >= 3
