"""The browser's Face Mesh files (npm ``@mediapipe/face_mesh``, Apache-2.0), fetched at set-up, never in git.

:func:`ensure_face_mesh` puts the pinned package's files (the ``face_mesh.js`` loader, the wasm builds, the
graph ``face_mesh.binarypb`` and the packed model assets) in a folder the app serves at
``/app/vendor/face_mesh/`` (issue 22). The tarball comes from ``npm pack`` where npm is installed, otherwise
from a plain HTTPS download of the registry tarball (a fresh machine needs no node); either way its bytes
are checked against the registry's sha512 ``dist.integrity`` pinned here before anything is unpacked.
A folder already holding this version (its stamp file names version and integrity) is left alone, so
``make run`` offline starts at once; a failed fetch raises and leaves an existing folder untouched.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gazescope.config import Settings
from gazescope.errors import ConfigurationError

FACE_MESH_PACKAGE = "@mediapipe/face_mesh"
FACE_MESH_VERSION = "0.4.1657299874"
#: The registry's ``dist.integrity`` of that version (``npm view @mediapipe/face_mesh@VERSION dist``).
FACE_MESH_INTEGRITY = (
    "sha512-Jdza+77HjDH4SQ6/DAYmnKUYdh2fU1GbhuGqXZbkK5rnJKpZLZe5KQeJmwUq9dmkYkCPSq4oe9vmcuveRPpwag=="
)
FACE_MESH_TARBALL_URL = f"https://registry.npmjs.org/{FACE_MESH_PACKAGE}/-/face_mesh-{FACE_MESH_VERSION}.tgz"
#: Files the page needs (``FaceMesh({locateFile})`` asks for the wasm or the simd build and its loader).
REQUIRED_FILES = (
    "face_mesh.js",
    "face_mesh.binarypb",
    "face_mesh_solution_packed_assets.data",
    "face_mesh_solution_packed_assets_loader.js",
    "face_mesh_solution_simd_wasm_bin.js",
    "face_mesh_solution_simd_wasm_bin.wasm",
    "face_mesh_solution_wasm_bin.js",
    "face_mesh_solution_wasm_bin.wasm",
)
STAMP = ".gazescope-vendor.json"
#: Largest tarball accepted (the pinned one is 7.4 MB), so a wrong URL cannot fill the disk.
MAX_TARBALL_BYTES = 64 * 1024 * 1024
FETCH_FAILED = "face_mesh_fetch_failed"


@dataclass(frozen=True)
class VendorResult:
    """Outcome of :func:`ensure_face_mesh`: the folder, the version, how it was obtained
    (``"present"``, ``"npm"``, ``"download"`` or ``"file"``) and the files written (0 when present)."""

    path: Path
    version: str
    how: str
    files: int


def default_vendor_dir() -> Path:
    """``web/vendor/face_mesh`` inside the installed package (gitignored)."""
    return Path(__file__).resolve().parents[1] / "web" / "vendor" / "face_mesh"


def vendor_dir(settings: Settings) -> Path:
    """The Face Mesh folder of ``settings`` (``face_mesh_vendor_dir``, else :func:`default_vendor_dir`)."""
    return settings.face_mesh_vendor_dir or default_vendor_dir()


def is_installed(path: Path, integrity: str = FACE_MESH_INTEGRITY) -> bool:
    """Whether ``path`` holds every required file of the tarball with ``integrity`` (read from its stamp)."""
    try:
        stamp = json.loads((path / STAMP).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(stamp, dict)
        and stamp.get("integrity") == integrity
        and all((path / name).is_file() for name in REQUIRED_FILES)
    )


def verify_integrity(data: bytes, integrity: str) -> None:
    """Check ``data`` against an npm/SRI integrity string ``"sha512-<base64>"`` (sha256/sha384 too).
    Raises ConfigurationError (code ``face_mesh_fetch_failed``) on a mismatch or a malformed string."""
    algo, _, digest = integrity.partition("-")
    if algo not in ("sha256", "sha384", "sha512") or not digest:
        raise ConfigurationError(f"unsupported integrity string {integrity!r}", code=FETCH_FAILED)
    got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if got != digest:
        raise ConfigurationError(
            f"integrity check failed: the tarball's {algo} is {algo}-{got}, expected {integrity} "
            "(a corrupted or substituted download; nothing was installed)",
            code=FETCH_FAILED,
        )


def _download(url: str, timeout_s: float) -> bytes:
    if not url.startswith(("https://", "http://", "file://")):
        raise ConfigurationError(f"unsupported tarball URL {url!r}", code=FETCH_FAILED)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            data: bytes = resp.read(MAX_TARBALL_BYTES + 1)
    except OSError as exc:
        raise ConfigurationError(f"could not download {url}: {exc}", code=FETCH_FAILED) from exc
    if len(data) > MAX_TARBALL_BYTES:
        raise ConfigurationError(f"{url} is larger than {MAX_TARBALL_BYTES} bytes", code=FETCH_FAILED)
    return data


def _npm_pack(npm: str, spec: str, timeout_s: float) -> bytes:
    with tempfile.TemporaryDirectory(prefix="gazescope-npm-") as tmp:
        try:
            subprocess.run(
                [npm, "pack", spec, "--silent", "--pack-destination", tmp],
                cwd=tmp,
                check=True,
                capture_output=True,
                timeout=timeout_s,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            raise ConfigurationError(
                f"npm pack {spec} failed: {exc} {detail.decode(errors='replace').strip()[-300:]}",
                code=FETCH_FAILED,
            ) from exc
        tarballs = list(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise ConfigurationError(f"npm pack {spec} wrote no tarball", code=FETCH_FAILED)
        return tarballs[0].read_bytes()


def fetch_tarball(
    source: str | None = None, *, timeout_s: float = 60.0, use_npm: bool | None = None
) -> tuple[bytes, str]:
    """The tarball's bytes and how they came (``"npm"``, ``"download"``, ``"file"``), not yet verified.

    ``source``: None for the pinned registry tarball (``npm pack`` when ``use_npm`` is True, or None and npm
    is on PATH; else an HTTPS download of :data:`FACE_MESH_TARBALL_URL`), an ``http(s)://``/``file://`` URL,
    or a local path. Raises ConfigurationError (code ``face_mesh_fetch_failed``) when it cannot be read.
    """
    if source is not None and "://" not in source:
        path = Path(source)
        if not path.is_file():
            raise ConfigurationError(f"no tarball at {path}", code=FETCH_FAILED)
        return path.read_bytes(), "file"
    if source is None:
        npm = shutil.which("npm") if use_npm is not False else None
        if npm:
            return _npm_pack(npm, f"{FACE_MESH_PACKAGE}@{FACE_MESH_VERSION}", timeout_s), "npm"
        if use_npm:
            raise ConfigurationError("npm is not installed", code=FETCH_FAILED)
        source = FACE_MESH_TARBALL_URL
    return _download(source, timeout_s), "file" if source.startswith("file://") else "download"


def _extract(data: bytes, dest: Path) -> int:
    """Unpack the regular files under ``package/`` of the tarball into ``dest`` (flat names only: no
    links, no ``..``); returns the number of files. Raises ConfigurationError on a bad archive."""
    count = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                parts = PurePosixPath(member.name).parts
                if not member.isfile() or len(parts) != 2 or parts[0] != "package" or parts[1] in ("..", "."):
                    continue
                src = tar.extractfile(member)
                if src is None:
                    continue
                (dest / parts[1]).write_bytes(src.read())
                count += 1
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ConfigurationError(f"the tarball could not be unpacked: {exc}", code=FETCH_FAILED) from exc
    missing = [name for name in REQUIRED_FILES if not (dest / name).is_file()]
    if missing:
        raise ConfigurationError(f"the tarball lacks {', '.join(missing)}", code=FETCH_FAILED)
    return count


def ensure_face_mesh(
    dest: Path,
    *,
    source: str | None = None,
    integrity: str = FACE_MESH_INTEGRITY,
    timeout_s: float = 60.0,
    use_npm: bool | None = None,
    force: bool = False,
) -> VendorResult:
    """Make ``dest`` hold the Face Mesh files of the tarball with ``integrity`` (see :func:`fetch_tarball`
    for ``source`` and ``use_npm``); does nothing when they are already there unless ``force``.

    The tarball is verified (:func:`verify_integrity`) and unpacked into a sibling temporary folder that
    then replaces ``dest``, so a failure never leaves half a folder. Raises ConfigurationError (code
    ``face_mesh_fetch_failed``) when the fetch, the integrity check or the unpacking fails.
    """
    if not force and is_installed(dest, integrity):
        return VendorResult(dest, FACE_MESH_VERSION, "present", 0)
    data, how = fetch_tarball(source, timeout_s=timeout_s, use_npm=use_npm)
    verify_integrity(data, integrity)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".face_mesh-", dir=dest.parent))
    try:
        count = _extract(data, tmp)
        version = FACE_MESH_VERSION
        with contextlib.suppress(OSError, ValueError):
            version = str(json.loads((tmp / "package.json").read_text()).get("version", version))
        stamp = {"package": FACE_MESH_PACKAGE, "version": version, "integrity": integrity, "how": how}
        (tmp / STAMP).write_text(json.dumps(stamp, indent=1) + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        tmp.chmod(0o755)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return VendorResult(dest, version, how, count)
