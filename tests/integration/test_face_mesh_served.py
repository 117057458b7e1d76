"""The browser's Face Mesh files and the SDK as a real ``gazescope serve`` serves them (issue 22).

The vendor folder (``GAZESCOPE_FACE_MESH_VENDOR_DIR``) is filled by the fetcher from a tarball built in
tmp_path (its own integrity): the files come back at ``/app/vendor/face_mesh/`` with the content types a
browser needs (``application/wasm`` for streaming compilation, binary types for the packed assets and the
graph), ``/sdk/face-mesh`` says they are available, and ``/sdk/gazescope.js`` is JavaScript. Without the
files, ``/sdk/face-mesh`` says so and the files are 404.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gazescope.services import face_mesh_vendor as fv
from support.face_mesh_tarball import make_tarball, package_files

pytestmark = pytest.mark.integration


def test_vendor_files_and_sdk_are_served_with_their_types(serve: Callable[..., Any], tmp_path: Path) -> None:
    tgz = tmp_path / "fm.tgz"
    integrity = make_tarball(tgz, package_files())
    dest = tmp_path / "vendor"
    fv.ensure_face_mesh(dest, source=str(tgz), integrity=integrity)
    (dest / fv.STAMP).write_text((dest / fv.STAMP).read_text().replace(integrity, fv.FACE_MESH_INTEGRITY))

    server = serve(GAZESCOPE_FACE_MESH_VENDOR_DIR=str(dest))
    base = server.url + "/app/vendor/face_mesh/"
    want = {
        "face_mesh_solution_simd_wasm_bin.wasm": "application/wasm",
        "face_mesh_solution_packed_assets.data": "application/octet-stream",
        "face_mesh.binarypb": "application/octet-stream",
        "face_mesh.js": "text/javascript; charset=utf-8",
    }
    for name, ctype in want.items():
        r = httpx.get(base + name)
        assert r.status_code == 200, name
        assert r.headers["content-type"] == ctype, name
        assert r.content == f"content of {name}".encode()
    assert httpx.get(server.url + "/sdk/face-mesh").json() == {
        "available": True,
        "version": fv.FACE_MESH_VERSION,
        "base_url": "/app/vendor/face_mesh/",
    }
    sdk = httpx.get(server.url + "/sdk/gazescope.js")
    assert sdk.status_code == 200 and sdk.headers["content-type"].startswith("text/javascript")
    assert "export class GazescopeTracker" in sdk.text


def test_without_the_files_the_server_says_unavailable(serve: Callable[..., Any], tmp_path: Path) -> None:
    server = serve(GAZESCOPE_FACE_MESH_VENDOR_DIR=str(tmp_path / "absent"))
    assert httpx.get(server.url + "/sdk/face-mesh").json()["available"] is False
    assert httpx.get(server.url + "/app/vendor/face_mesh/face_mesh.js").status_code == 404
    assert httpx.get(server.url + "/app/").status_code == 200  # the app itself is still there
