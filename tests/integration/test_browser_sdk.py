"""The SDK's documented example (docs/sdk.md, "A complete page") runs as written, in Chromium with the desk
video as fake camera: the page is read from the doc and written into a page of the server.

On the device (mode=device): samples arrive, the page says only landmarks are sent, the stored samples are
marked ``source == "landmarks"``, and the 5-point calibration steps run through to a result or a clear
failure. On the server (mode=server): frames are sent and samples arrive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gazescope.services import face_mesh_vendor

from . import test_browser_app as app_tests
from .test_browser_app import Pages, shot

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

fake_camera = app_tests.fake_camera
playwright_driver = app_tests.playwright_driver
browser = app_tests.browser
pages = app_tests.pages

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"


def doc_page() -> str:
    """The one ```html block of docs/sdk.md."""
    blocks = re.findall(r"```html\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1
    return blocks[0]


def open_example(pages: Pages, server: Any, query: str) -> Any:
    html = doc_page()
    ctx = pages.browser.new_context(viewport=app_tests.SMALL)
    pages.contexts.append(ctx)
    page = ctx.new_page()
    page.on("console", lambda m: pages.errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: pages.errors.append(f"pageerror: {e}"))
    # written into a page of the server (its URL carries the query the example reads): a page fulfilled by
    # Playwright would not be in the loopback address space, and Chromium would block its WebSockets
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))  # gazescope serves none
    page.goto(f"{server.url}/healthz?{query}")
    page.evaluate("h => { document.open(); document.write(h); document.close(); }", html)
    return page


def test_the_documented_page_tracks_on_the_device_and_calibrates(
    serve: Callable[..., Any], pages: Pages
) -> None:
    vendor = face_mesh_vendor.default_vendor_dir()
    if not face_mesh_vendor.is_installed(vendor):
        pytest.skip(f"Face Mesh files not installed in {vendor} (run `gazescope vendor`)")
    server = serve(GAZESCOPE_FACE_MESH_VENDOR_DIR=str(vendor))
    page = open_example(pages, server, "mode=device")
    page.wait_for_function("Number(document.body.dataset.samples || 0) >= 15", timeout=90_000)
    assert page.inner_text("#mode").startswith("on this device")
    assert page.inner_text("#conn") == "connected"
    session_id = page.evaluate("document.body.dataset.session")
    page.click("#calibrate")
    page.wait_for_function("document.querySelector('#cal').textContent.length > 0", timeout=90_000)
    cal = page.inner_text("#cal")
    shot(page, "24_sdk_example_device")
    # the fake camera does not look at the dots: any grade, or too few usable targets, is fine
    assert re.match(r"(good|fair|poor): mean error \d+ px|calibration failed: .*(need|enough)", cal), cal
    rows = httpx.get(f"{server.url}/api/sessions/{session_id}/samples", params={"limit": 20}).json()[
        "samples"
    ]
    assert rows and all(s.get("source") == "landmarks" for s in rows)


def test_the_documented_page_sends_frames_on_the_server(serve: Callable[..., Any], pages: Pages) -> None:
    server = serve()
    page = open_example(pages, server, "mode=server")
    page.wait_for_function("Number(document.body.dataset.samples || 0) >= 10", timeout=90_000)
    assert page.inner_text("#mode").startswith("on the server")
