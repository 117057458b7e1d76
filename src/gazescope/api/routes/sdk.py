"""The JavaScript client: ``/sdk/gazescope.js`` (an ES module, docs/sdk.md) and ``/sdk/face-mesh``, which
says whether on-device Face Mesh files are installed (``gazescope vendor``) and where they are served."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from gazescope.api.deps import State
from gazescope.api.limits import GuardedRoute
from gazescope.services import face_mesh_vendor

router = APIRouter(route_class=GuardedRoute, tags=["sdk"])
SDK_FILE = Path(__file__).resolve().parents[2] / "web" / "sdk" / "gazescope.js"
#: URL path the app mounts the Face Mesh folder at (api/app.py).
FACE_MESH_URL = "/app/vendor/face_mesh/"


@router.get("/sdk/gazescope.js", include_in_schema=False)
async def sdk_module() -> FileResponse:
    """The SDK's ES module source (text/javascript)."""
    return FileResponse(SDK_FILE, media_type="text/javascript; charset=utf-8")


@router.get("/sdk/face-mesh", include_in_schema=False)
async def face_mesh_status(state: State) -> dict[str, object]:
    """``{"available": bool, "version": str, "base_url": "/app/vendor/face_mesh/"}``: whether the pinned
    Face Mesh files are installed, so a page can say on-device tracking is unavailable without a 404."""
    path = face_mesh_vendor.vendor_dir(state.settings)
    available = face_mesh_vendor.is_installed(path)
    return {"available": available, "version": face_mesh_vendor.FACE_MESH_VERSION, "base_url": FACE_MESH_URL}
