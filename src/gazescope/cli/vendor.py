"""``gazescope vendor``: fetch the browser's Face Mesh files (npm ``@mediapipe/face_mesh``, pinned version,
integrity-checked) into the folder the app serves at ``/app/vendor/face_mesh/`` (``make install`` runs it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gazescope.cli.common import fail, settings_error
from gazescope.config import Settings
from gazescope.errors import GazescopeError
from gazescope.services import face_mesh_vendor


def vendor(
    source: Annotated[
        str | None,
        typer.Option(help="Tarball to use instead of the npm registry: a local path or an http(s)/file URL."),
    ] = None,
    dest: Annotated[
        Path | None,
        typer.Option(
            help="Folder to fill (default: GAZESCOPE_FACE_MESH_VENDOR_DIR, else web/vendor/face_mesh)."
        ),
    ] = None,
    npm: Annotated[
        bool | None,
        typer.Option(
            "--npm/--no-npm", help="Use `npm pack` (default: when npm is on PATH) or a plain download."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Fetch again even when the files are present.")] = False,
) -> None:
    """Fetch @mediapipe/face_mesh (pinned, sha512-checked) for on-device tracking in the browser app.

    Exits 2 when the fetch fails (offline, integrity mismatch): the app then says on-device tracking is
    unavailable and sends camera frames instead.
    """
    try:
        settings = Settings()
    except Exception as exc:  # pydantic.ValidationError: one readable line
        fail(settings_error(exc))
    target = dest or face_mesh_vendor.vendor_dir(settings)
    try:
        result = face_mesh_vendor.ensure_face_mesh(
            target, source=source, timeout_s=settings.face_mesh_fetch_timeout_s, use_npm=npm, force=force
        )
    except GazescopeError as exc:
        fail(f"{exc} (on-device tracking stays unavailable; the app sends camera frames)")
    if result.how == "present":
        typer.echo(f"{face_mesh_vendor.FACE_MESH_PACKAGE}@{result.version} already in {result.path}")
    else:
        typer.echo(
            f"{face_mesh_vendor.FACE_MESH_PACKAGE}@{result.version}: {result.files} files in {result.path} "
            f"(via {result.how}, integrity verified)"
        )
