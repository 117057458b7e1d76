"""On-device tracking in the browser app (issue 22), in real Chromium with the desk video as fake camera.

* The app times the in-page Face Mesh when the camera starts and picks "on this device" exactly when it
  ran at >= 15 FPS (the figure it shows); chosen "on this device", it sends binary GSLM landmarks messages
  (5,756 bytes, never a JPEG), the consent and the live tag say so, and samples come back.
* Without the Face Mesh files the app says on-device tracking is unavailable, disables it and sends frames.
* Screenshots of both modes go to ``test-artifacts/browser/`` (gitignored).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gazescope.services import face_mesh_vendor

from . import test_browser_app as app_tests
from .test_browser_app import Pages, shot

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

fake_camera = app_tests.fake_camera
playwright_driver = app_tests.playwright_driver
browser = app_tests.browser
pages = app_tests.pages


@pytest.fixture(scope="module")
def vendor_dir() -> Path:
    """The Face Mesh files as `gazescope vendor` installs them (skipped where they are not installed)."""
    path = face_mesh_vendor.default_vendor_dir()
    if not face_mesh_vendor.is_installed(path):
        pytest.skip(f"Face Mesh files not installed in {path} (run `gazescope vendor`)")
    return path


def camera_on(page: Any) -> None:
    page.check("#consent")
    page.click("#camera-start")
    page.wait_for_selector("#session-start:enabled", timeout=60_000)


def test_the_app_tracks_on_the_device_and_sends_only_landmarks(
    serve: Callable[..., Any], pages: Pages, vendor_dir: Path
) -> None:
    server = serve(GAZESCOPE_FACE_MESH_VENDOR_DIR=str(vendor_dir))
    # the default: chosen by the measured speed
    page = pages.open(server.url + "/app/", mode=None)
    page.wait_for_selector("#mode-info[data-state='pending']")
    assert page.is_checked("#mode-server") and page.is_visible("#consent-server")
    camera_on(page)
    fps = page.evaluate("window.gazescope.app.deviceFps")
    assert fps is not None and fps > 0
    want = "device" if fps >= 15 else "server"
    assert page.evaluate("window.gazescope.app.trackingMode") == want
    assert page.get_attribute("#mode-info", "data-state") == ("ok" if want == "device" else "slow")
    assert f"{fps:.1f} frames per second" in page.inner_text("#mode-info")
    print(f"\nin-page Face Mesh measured at {fps:.1f} FPS -> default mode {want}")

    # chosen "on this device": landmarks only
    page = pages.open(server.url + "/app/", mode="device")
    sent: list[Any] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framesent", lambda p: sent.append(p)) if ws.url.endswith("/track") else None,
    )
    assert page.is_checked("#mode-device")
    assert page.is_visible("#consent-device") and not page.is_visible("#consent-server")
    assert "never leave this computer" in page.inner_text(".consent")
    camera_on(page)
    assert page.evaluate("window.gazescope.app.trackingMode") == "device"
    shot(page, "20_on_device_start")
    page.click("#session-start")
    page.wait_for_selector("#conn-state[data-state='connected']", timeout=20_000)
    page.wait_for_function(
        "Number(document.querySelector('#m-samples').dataset.count || 0) >= 15", timeout=60_000
    )
    assert page.inner_text("#m-mode") == "on this device"
    page.wait_for_selector("#overlay[data-pupils='2']", timeout=20_000)
    shot(page, "21_on_device_live")
    binary = [p for p in sent if isinstance(p, bytes)]
    assert len(binary) >= 15
    for msg in binary:
        assert msg[:4] == b"GSLM" and msg[4] == 1
        faces, n, w, h = struct.unpack_from("<BHHH", msg, 5)
        assert (w, h) == (640, 480) and len(msg) == 20 + 12 * n and n in (0, 478)
        assert faces == (1 if n else 0)
    assert sum(1 for m in binary if len(m) == 5756) >= 0.9 * len(binary)  # the desk video shows a face
    samples = page.evaluate("window.gazescope.client.stats.samples")
    assert samples >= 15


def test_without_face_mesh_files_the_app_sends_frames(
    serve: Callable[..., Any], pages: Pages, tmp_path: Path
) -> None:
    server = serve(GAZESCOPE_FACE_MESH_VENDOR_DIR=str(tmp_path / "none"))
    page = pages.open(server.url + "/app/", mode=None)
    sent: list[Any] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framesent", lambda p: sent.append(p)) if ws.url.endswith("/track") else None,
    )
    page.wait_for_selector("#mode-info[data-state='unavailable']")
    assert "unavailable" in page.inner_text("#mode-info")
    assert page.is_disabled("#mode-device") and page.is_checked("#mode-server")
    assert page.is_visible("#consent-server")
    camera_on(page)
    shot(page, "22_on_server_start")
    page.click("#session-start")
    page.wait_for_function(
        "Number(document.querySelector('#m-samples').dataset.count || 0) >= 10", timeout=60_000
    )
    assert page.inner_text("#m-mode") == "on the server"
    shot(page, "23_on_server_live")
    frames = [p for p in sent if isinstance(p, bytes)]
    assert frames and all(f[:2] == b"\xff\xd8" for f in frames)
