"""``/docs`` renders its list of operations in real Chromium with every request off the server's own origin
blocked, as on a machine without internet (issue 19: the page was blank without a CDN)."""

from __future__ import annotations

from typing import Any

import pytest

from support.servers import Server

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]


def test_docs_render_operations_with_no_request_off_origin(chromium: Any, server: Server) -> None:
    page_path, ready = "/docs", ".opblock"
    origin = server.url
    blocked: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(origin + "/"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    ctx = chromium.new_context()
    try:
        page = ctx.new_page()
        page.route("**/*", route)
        page.goto(origin + page_path)
        page.wait_for_selector(ready, timeout=30_000)
        shown = page.locator(ready).count()
        text = page.inner_text("body")
    finally:
        ctx.close()
    assert shown >= 5, f"{page_path}: {shown} operations shown"
    assert "/api/sessions" in text
    assert blocked == [], f"{page_path} asked for off-origin URLs: {blocked}"
