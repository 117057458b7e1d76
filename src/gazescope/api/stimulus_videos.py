"""Video stimuli: upload (checked by decoding with OpenCV, never executed), files, listing.

A video stimulus is a document of the ``stimuli`` collection with ``kind: "video"`` and, besides the image
stimulus fields (``width_px``, ``height_px``, ``format`` ``mp4``/``webm``, ``bytes``), ``fps``,
``frame_count`` and ``duration_s``. The store keeps the video bytes (blob ``stimuli/{id}/video``) and a
JPEG of its first frame as the stimulus image (blob ``stimuli/{id}/image``), so every image analysis
(heatmaps drawn on the stimulus, AOIs) works on a video too; the file beside the store
(:class:`~gazescope.storage.video_files.VideoFiles`) is what is served and decoded.

Samples recorded while a video plays carry ``stimulus_id`` and ``video_t_s`` (seconds into the video).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from gazescope.api import logs
from gazescope.api.routes.analytics import STIMULI, stimulus_blob_key
from gazescope.api.state import AppState
from gazescope.errors import FrameTooLargeError, NotFoundError, ValidationError
from gazescope.storage.video_files import VideoFiles, video_blob_key
from gazescope.vision.video import VIDEO_MEDIA_TYPES, inspect_video, read_frame_at

VIDEO = "video"


def video_files(state: AppState) -> VideoFiles:
    return VideoFiles(state.settings.stimulus_video_dir)


def is_video(doc: dict[str, Any]) -> bool:
    return doc.get("kind") == VIDEO


def _poster_jpeg(path: Path, fps: float) -> bytes:
    import cv2

    rgb = read_frame_at(path, 0.0, fps)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ValidationError("the first frame of the video could not be encoded as JPEG")
    return buf.tobytes()


async def create_video_stimulus(state: AppState, data: bytes, fmt: str, name: str | None) -> dict[str, Any]:
    """Check and store an uploaded MP4/WebM; returns the stimulus document.

    Raises:
        FrameTooLargeError: over ``Settings.max_stimulus_video_bytes`` or the frame size limits.
        VideoReadError: the bytes do not decode as a video.
    """
    s = state.settings
    if len(data) > s.max_stimulus_video_bytes:
        raise FrameTooLargeError(f"stimulus video exceeds the limit of {s.max_stimulus_video_bytes} bytes")
    sid = uuid.uuid4().hex
    files = video_files(state)
    path = await state.io(files.write, sid, fmt, data)
    try:
        info = await state.cpu(
            inspect_video, path, max_width=s.max_frame_width, max_height=s.max_frame_height
        )
        poster = await state.cpu(_poster_jpeg, path, info.fps)
    except BaseException:
        await state.io(files.delete, sid, fmt)
        raise
    doc = {
        "id": sid,
        "name": name or sid,
        "kind": VIDEO,
        "width_px": info.width_px,
        "height_px": info.height_px,
        "format": fmt,
        "bytes": len(data),
        "created_at_ms": round(time.time() * 1000.0, 3),
        "fps": round(info.fps, 6),
        "frame_count": info.frame_count,
        "duration_s": round(info.duration_s, 6),
    }
    store = state.store
    try:
        await state.io(store.put_blob, video_blob_key(sid), data)
        await state.io(store.put_blob, stimulus_blob_key(sid), poster)
        await state.io(store.put_document, STIMULI, sid, doc)
    except BaseException:
        await state.io(store.delete_blob, video_blob_key(sid))
        await state.io(store.delete_blob, stimulus_blob_key(sid))
        await state.io(files.delete, sid, fmt)
        raise
    logs.event(
        "stimulus_created", stimulus_id=sid, kind=VIDEO, width_px=info.width_px, height_px=info.height_px,
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


def media_type(doc: dict[str, Any]) -> str:
    return VIDEO_MEDIA_TYPES.get(str(doc.get("format")), "application/octet-stream")


def list_videos(store: Any) -> list[dict[str, Any]]:
    """Video stimulus documents, oldest first (the order ``RequestVideoURL`` hands them out)."""
    docs = [d for d in store.list_documents(STIMULI) if is_video(d)]
    docs.sort(key=lambda d: (d.get("created_at_ms") or 0.0, d["id"]))
    return docs
