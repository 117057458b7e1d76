"""The AOI editor of the browser app (#/aois/<stimulus id>) in real Chromium against a real
``gazescope serve`` (issue 19): a rectangle dragged and a polygon clicked on a real stimulus image are
named, added and saved through the API, in stimulus pixels; one is deleted and the list saved again. The
page must log no console error. Screenshot: ``test-artifacts/browser/aoi_editor_1280x720.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"


def test_draw_name_save_and_delete_aois(server: Any, chromium: Any, data_dir: Path) -> None:
    image = (data_dir / "images" / "obama-480p.jpg").read_bytes()
    stim = httpx.post(f"{server.url}/api/stimuli", files={"file": ("face.jpg", image, "image/jpeg")}).json()
    w, h = stim["width_px"], stim["height_px"]

    ctx = chromium.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}/app/#/review")  # the way in: Review -> By stimulus -> AOIs
    page.click(f"#stimuli-table a[href='#/aois/{stim['id']}']")
    page.wait_for_selector("#view-aois:not([hidden]) .aoi-stage svg")
    page.wait_for_function("document.querySelector('#aoi-stage img').complete")
    box = page.locator("#aoi-stage svg").bounding_box()
    assert box and box["width"] > 100

    def at(fx: float, fy: float) -> tuple[float, float]:
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    # a rectangle: drag from 20 %, 10 % to 60 %, 50 % of the image
    page.mouse.move(*at(0.2, 0.1))
    page.mouse.down()
    page.mouse.move(*at(0.4, 0.3), steps=4)
    page.mouse.move(*at(0.6, 0.5), steps=4)
    page.mouse.up()
    page.fill("#aoi-name", "face")
    page.click("#aoi-add")
    # a polygon: three clicks, then close it
    page.check("input[name=aoi-kind][value=polygon]")
    for fx, fy in ((0.1, 0.7), (0.5, 0.95), (0.9, 0.7)):
        page.mouse.click(*at(fx, fy))
    page.click("#aoi-close")
    page.fill("#aoi-name", "shoulders")
    page.click("#aoi-add")
    assert page.locator("#aoi-table tbody tr").count() == 2
    page.click("#aoi-save")
    page.wait_for_function("document.querySelector('#aoi-status').textContent === 'saved'")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "aoi_editor_1280x720.png"), full_page=True)

    saved = httpx.get(f"{server.url}/api/stimuli/{stim['id']}/aois").json()["aois"]
    face, shoulders = saved
    assert face["name"] == "face" and face["kind"] == "rect"
    tol = 0.02  # 2 % of the image: a pixel or two of layout rounding
    assert abs(face["x_px"] - 0.2 * w) < tol * w and abs(face["y_px"] - 0.1 * h) < tol * h
    assert abs(face["w_px"] - 0.4 * w) < tol * w and abs(face["h_px"] - 0.4 * h) < tol * h
    assert shoulders["kind"] == "polygon" and len(shoulders["points_px"]) == 3
    for (x, y), (fx, fy) in zip(shoulders["points_px"], ((0.1, 0.7), (0.5, 0.95), (0.9, 0.7)), strict=True):
        assert abs(x - fx * w) < tol * w and abs(y - fy * h) < tol * h

    # delete one and save: the server keeps the other; a reload lists what is stored
    page.click("#aoi-table [data-delete='0']")
    page.click("#aoi-save")
    page.wait_for_function("document.querySelector('#aoi-status').textContent === 'saved'")
    assert [a["name"] for a in httpx.get(f"{server.url}/api/stimuli/{stim['id']}/aois").json()["aois"]] == [
        "shoulders"
    ]
    page.reload()
    page.wait_for_selector("#aoi-table tbody tr[data-aoi='shoulders']")
    ctx.close()
    assert errors == []


def test_an_aoi_on_a_video_gets_a_time_range(server: Any, chromium: Any, short_video: Path) -> None:
    vid = httpx.post(
        f"{server.url}/api/stimuli", files={"file": ("clip.mp4", short_video.read_bytes(), "video/mp4")}
    ).json()
    ctx = chromium.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}/app/#/aois/{vid['id']}")
    page.wait_for_selector("#view-aois:not([hidden]) #aoi-stage video")
    page.wait_for_function("document.querySelector('#aoi-stage video').readyState >= 1")
    assert page.is_visible("#aoi-times")
    page.fill("#aoi-time", "1")  # the seek slider
    page.wait_for_function("Math.abs(document.querySelector('#aoi-stage video').currentTime - 1.0) < 0.05")
    box = page.locator("#aoi-stage svg").bounding_box()
    assert box
    page.mouse.move(box["x"] + 0.1 * box["width"], box["y"] + 0.1 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.6 * box["height"], steps=5)
    page.mouse.up()
    page.fill("#aoi-name", "left part")
    page.click("#aoi-now")
    page.fill("#aoi-end", "2.5")
    page.click("#aoi-add")
    page.click("#aoi-save")
    page.wait_for_function("document.querySelector('#aoi-status').textContent === 'saved'")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "aoi_editor_video_1280x720.png"), full_page=True)
    (aoi,) = httpx.get(f"{server.url}/api/stimuli/{vid['id']}/aois").json()["aois"]
    assert aoi["name"] == "left part" and aoi["kind"] == "rect"
    assert aoi["start_s"] == 1.0 and aoi["end_s"] == 2.5
    w, h = vid["width_px"], vid["height_px"]
    assert abs(aoi["x_px"] - 0.1 * w) < 0.02 * w and abs(aoi["y_px"] - 0.1 * h) < 0.02 * h
    assert abs(aoi["w_px"] - 0.4 * w) < 0.02 * w and abs(aoi["h_px"] - 0.5 * h) < 0.02 * h
    ctx.close()
    assert errors == []
