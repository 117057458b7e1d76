"""Video stimuli in the service: upload (checked by decoding with OpenCV in the video analytics pool,
never executed), the files served, deletion. The store side is :mod:`gazescope.services.videos`.

A video stimulus is a document of the ``stimuli`` collection with ``kind: "video"`` and, besides the image
stimulus fields (``width_px``, ``height_px``, ``format`` ``mp4``/``webm``, ``bytes``), ``fps``,
``frame_count`` and ``duration_s``. The store keeps the video bytes (blob ``stimuli/{id}/video``) and a
JPEG of its first frame as the stimulus image (blob ``stimuli/{id}/image``), so every image analysis
(heatmaps drawn on the stimulus, AOIs) works on a video too; the file beside the store
(:class:`~gazescope.storage.video_files.VideoFiles`) is what is served and decoded.

Samples recorded while a video plays carry ``stimulus_id`` and ``video_t_s`` (seconds into the video).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from gazescope.api import logs
from gazescope.api.deps import video_files
from gazescope.api.state import AppState
from gazescope.errors import FrameTooLargeError, NotFoundError
from gazescope.services.stimuli import stimulus_blob_key
from gazescope.services.videos import (
    inspect_video_file,
    is_video,
    store_video_stimulus,
    video_stimulus_doc,
)
from gazescope.storage.video_files import video_blob_key


async def create_video_stimulus(state: AppState, data: bytes, fmt: str, name: str | None) -> dict[str, Any]:
    """Check and store an uploaded MP4/WebM; returns the stimulus document.

    Raises:
        FrameTooLargeError: over ``Settings.max_stimulus_video_bytes`` or the frame size limits.
        VideoReadError: the bytes do not decode as a video.
        BusyError: the video analytics pool is full (``analytics_busy``, HTTP 503).
    """
    s = state.settings
    if len(data) > s.max_stimulus_video_bytes:
        raise FrameTooLargeError(
            f"stimulus video exceeds the limit of {s.max_stimulus_video_bytes} bytes "
            "(GAZESCOPE_MAX_STIMULUS_VIDEO_BYTES)"
        )
    sid = uuid.uuid4().hex
    files = video_files(state)
    path = await state.io(files.write, sid, fmt, data)
    try:
        # decoding every frame: in the video analytics pool, not the tracking pool (503 when busy)
        info, poster = await state.analytics.run(
            "video inspection", inspect_video_file, path, max_width=s.max_frame_width,
            max_height=s.max_frame_height,
        )  # fmt: skip
    except BaseException:
        await state.io(files.delete, sid, fmt)
        raise
    doc = video_stimulus_doc(sid, name, fmt, len(data), info)
    try:
        await state.io(store_video_stimulus, state.store, doc, data, poster)
    except BaseException:  # also when cancelled while the store thread runs
        await state.io(state.store.delete_blob, video_blob_key(sid))
        await state.io(state.store.delete_blob, stimulus_blob_key(sid))
        await state.io(files.delete, sid, fmt)
        raise
    logs.event(
        "stimulus_created", stimulus_id=sid, kind=doc["kind"], width_px=info.width_px, height_px=info.height_px,
        frames=info.frame_count, bytes=len(data),
    )  # fmt: skip
    return doc


async def delete_video_files(state: AppState, doc: dict[str, Any]) -> None:
    """Remove a video stimulus' bytes from the store and its file."""
    await state.io(state.store.delete_blob, video_blob_key(str(doc["id"])))
    await state.io(video_files(state).delete, str(doc["id"]), str(doc.get("format")))


async def video_path(state: AppState, doc: dict[str, Any]) -> Path:
    """The file of a video stimulus (rebuilt from the store when missing). NotFoundError for an image."""
    if not is_video(doc):
        raise NotFoundError(f"stimulus {doc.get('id')!r} is not a video", code="not_a_video")
    return await state.io(video_files(state).ensure, state.store, str(doc["id"]), str(doc["format"]))
