"""Stimulus videos as files beside the store.

The store keeps the uploaded bytes (blob ``stimuli/{id}/video``, so every server on a shared Redis has
them); serving with range requests and decoding with OpenCV need a file, so each video is also kept as
``<stimulus_video_dir>/<id>.<format>``, written atomically and rebuilt from the blob when missing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from gazescope.storage.base import SESSION_ID_RE, Store

VIDEO_FORMATS = ("mp4", "webm")


def video_blob_key(stimulus_id: str) -> str:
    """Blob key of a stimulus video's bytes."""
    return f"stimuli/{stimulus_id}/video"


class VideoFiles:
    """The folder of stimulus video files (created on first write)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, stimulus_id: str, fmt: str) -> Path:
        """Where the video of ``stimulus_id`` lives. Raises ValueError for an unsafe id or format."""
        if not SESSION_ID_RE.match(stimulus_id) or fmt not in VIDEO_FORMATS:
            raise ValueError(f"bad stimulus id or video format: {stimulus_id!r}, {fmt!r}")
        return self.folder / f"{stimulus_id}.{fmt}"

    def write(self, stimulus_id: str, fmt: str, data: bytes) -> Path:
        """Write the file atomically (temporary file + rename); returns its path."""
        target = self.path(stimulus_id, fmt)
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".upload-", suffix=f".{fmt}")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def ensure(self, store: Store, stimulus_id: str, fmt: str) -> Path:
        """The file of the video, rebuilt from the store's blob when missing.

        Raises NotFoundError when the store has no such video either.
        """
        target = self.path(stimulus_id, fmt)
        if target.is_file():
            return target
        return self.write(stimulus_id, fmt, store.get_blob(video_blob_key(stimulus_id)))

    def delete(self, stimulus_id: str, fmt: str) -> None:
        """Remove the video's file and the overlays rendered from it."""
        self.path(stimulus_id, fmt).unlink(missing_ok=True)
        for overlay in (self.folder / "overlays").glob(f"{stimulus_id}-*.mp4"):
            overlay.unlink(missing_ok=True)
