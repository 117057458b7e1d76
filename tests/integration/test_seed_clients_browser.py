"""Seed clients' cross-origin calls in a real Chromium (issue 11): the browser, not the test, decides
whether CORS lets the page read the answer.

* seed 000's React client runs on http://localhost:<port> and calls REST with
  ``fetch(..., {credentials: "include"})``: it must read ``result.data``;
* seed 003's page is opened from disk (``file://``, Origin ``null``) and shows ``res.blob()`` of
  ``POST /upload`` as an image: it must load as a 1920x1080 picture.
"""

from __future__ import annotations

import http.server
import threading
from functools import partial
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.browser]


SEED000_PAGE = """<!doctype html><script>
(async () => {
  const api = "%(api)s";
  let r = await fetch(api + "/session/start", {method: "POST", credentials: "include",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({session_duration: 25})});
  const start = await r.json();
  r = await fetch(api + "/session/" + start.session_id, {credentials: "include"});
  const result = await r.json();
  window.__result = {status: r.status, data: result.data, started: start.session_id};
})().catch(e => { window.__result = {failed: String(e)}; });
</script>"""

SEED003_PAGE = """<!doctype html><body><img id="heatmap"><script>
(async () => {
  const points = [];
  for (let i = 0; i < 30; i++) points.push({x: 300 + 20 * i, y: 200 + 10 * i, weight: 1});
  const res = await fetch("%(api)s/upload", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({points})});
  const blob = await res.blob();
  const img = document.getElementById("heatmap");
  img.src = URL.createObjectURL(blob);
  await new Promise((ok, bad) => { img.onload = ok; img.onerror = bad; });
  window.__result = {origin: String(window.origin), status: res.status, type: blob.type,
    width: img.naturalWidth, height: img.naturalHeight};
})().catch(e => { window.__result = {failed: String(e)}; });
</script>"""


def run_page(chromium: Any, url: str) -> dict[str, Any]:
    ctx = chromium.new_context()
    try:
        page = ctx.new_page()
        page.goto(url)
        page.wait_for_function("window.__result !== undefined", timeout=30_000)
        return page.evaluate("window.__result")
    finally:
        ctx.close()


def test_seed000_page_reads_credentialed_answers(server, chromium, tmp_path):
    (tmp_path / "index.html").write_text(SEED000_PAGE % {"api": f"http://localhost:{server.port}"})
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # the client's dev server
    port = site.server_address[1]
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        result = run_page(chromium, f"http://localhost:{port}/index.html")
    finally:
        site.shutdown()
        site.server_close()
    assert "failed" not in result, result  # a CORS refusal surfaces as "TypeError: Failed to fetch"
    assert result["status"] == 200
    assert result["data"]["session_id"] == result["started"] and result["data"]["session_duration"] == 25


def test_seed003_file_page_shows_the_heatmap(server, chromium, tmp_path):
    page = tmp_path / "gaze.html"
    page.write_text(SEED003_PAGE % {"api": f"http://localhost:{server.port}"})
    result = run_page(chromium, page.as_uri())
    assert "failed" not in result, result
    assert result["origin"] == "null"
    assert result["status"] == 200 and result["type"] == "image/png"
    assert (result["width"], result["height"]) == (1920, 1080)
