"""npm-style tarballs built in a test's tmp folder for the Face Mesh fetcher (no network)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

from gazescope.services import face_mesh_vendor as fv


def make_tarball(path: Path, files: dict[str, bytes]) -> str:
    """Write an npm-style .tgz (members under ``package/``) and return its sha512 integrity string."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return "sha512-" + base64.b64encode(hashlib.sha512(buf.getvalue()).digest()).decode()


def package_files() -> dict[str, bytes]:
    """Every required file as ``b"content of <name>"`` plus a package.json of version 9.9.9."""
    files = {f"package/{name}": f"content of {name}".encode() for name in fv.REQUIRED_FILES}
    files["package/package.json"] = json.dumps({"name": fv.FACE_MESH_PACKAGE, "version": "9.9.9"}).encode()
    return files
