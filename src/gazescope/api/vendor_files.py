"""Static files with explicit content types for the browser's Face Mesh build (issue 22).

Python's ``mimetypes`` knows ``.wasm`` but not ``.data``, ``.binarypb`` or ``.tflite``, which Starlette would
send as ``text/plain``; browsers need ``application/wasm`` for streaming compilation and binary types for the
rest (a text type can also trip an intermediary's compression or charset rewriting).
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

#: Content type by file suffix for the Face Mesh package's files.
MEDIA_TYPES = {
    ".wasm": "application/wasm",
    ".data": "application/octet-stream",
    ".binarypb": "application/octet-stream",
    ".tflite": "application/octet-stream",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
}


class VendorStaticFiles(StaticFiles):
    """A :class:`StaticFiles` whose responses carry the :data:`MEDIA_TYPES` content type by suffix (others as
    Starlette guesses them)."""

    async def check_config(self) -> None:
        """Like StaticFiles' check, but an absent folder (not fetched yet) answers 404, not 500."""
        if self.directory is not None and not os.path.isdir(self.directory):
            return
        await super().check_config()

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """The file's response with its suffix's content type; 304 when the client's copy is current."""
        media_type = MEDIA_TYPES.get(Path(full_path).suffix.lower())
        response = FileResponse(
            full_path, status_code=status_code, stat_result=stat_result, media_type=media_type
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response
