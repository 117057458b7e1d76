"""``/docs`` works without internet: the page names only same-origin assets, and the server serves them
(from the installed ``fastapi-offline`` package), so a self-hosted deployment with no CDN shows its API
documentation (issue 19). ``/redoc`` is off (its bundle fetches a logo from a CDN)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

#: Every URL a page names in ``src=``, ``href=``, ``spec-url=`` or a JavaScript ``url:`` string.
URL_RE = re.compile(r"""(?:\b(?:src|href|spec-url)\s*=\s*|\burl:\s*)["']([^"']+)["']""")


def _asset_urls(html: str) -> list[str]:
    return URL_RE.findall(html)


def test_docs_page_names_only_same_origin_assets_and_they_are_served(client: TestClient) -> None:
    page, script = "/docs", "swagger-ui-bundle.js"
    r = client.get(page)
    assert r.status_code == 200, r.text
    urls = _asset_urls(r.text)
    assert any(u.endswith(script) for u in urls), urls
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), f"{page} names {url}"
    for url in urls:
        if url.endswith((".js", ".css", ".png")):
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000, url
            if url.endswith(".js"):
                assert "javascript" in asset.headers["content-type"], asset.headers
            if url.endswith(".css"):
                assert asset.headers["content-type"].startswith("text/css"), asset.headers


def test_swagger_ui_loads_the_openapi_schema_and_fetches_no_validator_badge(client: TestClient) -> None:
    html = client.get("/docs").text
    assert "url: '/openapi.json'" in html
    assert '"validatorUrl": null' in html
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs/oauth2-redirect").status_code == 200


def test_redoc_is_off(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
