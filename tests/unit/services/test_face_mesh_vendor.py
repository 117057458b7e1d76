"""The Face Mesh fetcher (services/face_mesh_vendor, issue 22) on tarballs built in tmp_path: no network.

A tarball whose sha512 matches the pinned integrity is unpacked (from a path and from a file:// URL, the
same code as the HTTPS download); a corrupted or substituted one is refused and leaves nothing behind, and an
installed folder is kept as it is; a tarball lacking a required file or smuggling a path out is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gazescope.errors import ConfigurationError
from gazescope.services import face_mesh_vendor as fv
from support.face_mesh_tarball import make_tarball, package_files


def test_a_verified_tarball_is_unpacked_from_a_path_and_a_file_url(tmp_path: Path) -> None:
    tgz = tmp_path / "fm.tgz"
    integrity = make_tarball(tgz, package_files())
    dest = tmp_path / "vendor" / "face_mesh"

    got = fv.ensure_face_mesh(dest, source=str(tgz), integrity=integrity)
    assert (got.how, got.version, got.files) == ("file", "9.9.9", len(fv.REQUIRED_FILES) + 1)
    assert (dest / "face_mesh.js").read_bytes() == b"content of face_mesh.js"
    assert fv.is_installed(dest, integrity)
    assert not fv.is_installed(dest)  # the pinned integrity is another tarball's

    assert fv.ensure_face_mesh(dest, source=str(tgz), integrity=integrity).how == "present"
    again = fv.ensure_face_mesh(dest, source=tgz.as_uri(), integrity=integrity, force=True)
    assert (again.how, again.files) == ("file", len(fv.REQUIRED_FILES) + 1)
    assert [p.name for p in dest.parent.iterdir()] == ["face_mesh"]  # no temporary folder left


def test_a_corrupted_tarball_is_refused_and_installs_nothing(tmp_path: Path) -> None:
    tgz = tmp_path / "fm.tgz"
    integrity = make_tarball(tgz, package_files())
    data = bytearray(tgz.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(bytes(data))
    dest = tmp_path / "vendor" / "face_mesh"

    with pytest.raises(ConfigurationError, match="integrity check failed") as err:
        fv.ensure_face_mesh(dest, source=str(bad), integrity=integrity)
    assert err.value.code == "face_mesh_fetch_failed"
    assert not dest.exists()

    # an installed folder survives a bad fetch as it was
    fv.ensure_face_mesh(dest, source=str(tgz), integrity=integrity)
    with pytest.raises(ConfigurationError, match="integrity"):
        fv.ensure_face_mesh(dest, source=bad.as_uri(), integrity=integrity, force=True)
    assert fv.is_installed(dest, integrity)


def test_the_pinned_integrity_refuses_another_tarball(tmp_path: Path) -> None:
    tgz = tmp_path / "other.tgz"
    make_tarball(tgz, package_files())
    with pytest.raises(ConfigurationError, match="expected sha512-Jdza"):
        fv.ensure_face_mesh(tmp_path / "fm", source=str(tgz))
    with pytest.raises(ConfigurationError, match="unsupported integrity"):
        fv.verify_integrity(b"x", "md5-abc")


def test_incomplete_or_escaping_tarballs_are_refused(tmp_path: Path) -> None:
    files = package_files()
    del files["package/face_mesh_solution_simd_wasm_bin.wasm"]
    files["package/../evil.js"] = b"x"
    files["package/sub/deep.js"] = b"x"
    tgz = tmp_path / "fm.tgz"
    integrity = make_tarball(tgz, files)
    with pytest.raises(ConfigurationError, match=r"lacks face_mesh_solution_simd_wasm_bin\.wasm"):
        fv.ensure_face_mesh(tmp_path / "v" / "fm", source=str(tgz), integrity=integrity)
    assert not (tmp_path / "evil.js").exists() and not (tmp_path / "v" / "fm").exists()


def test_missing_sources_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no tarball at"):
        fv.fetch_tarball(str(tmp_path / "absent.tgz"))
    with pytest.raises(ConfigurationError, match="could not download"):
        fv.fetch_tarball((tmp_path / "absent.tgz").as_uri())
    with pytest.raises(ConfigurationError, match="unsupported tarball URL"):
        fv.fetch_tarball("ftp://example.invalid/x.tgz")
