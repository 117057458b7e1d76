"""Video stimuli and their analyses over the sessions that watched them. The science is in
:mod:`gazescope.analytics.video` and :mod:`gazescope.analytics.video_overlay`; this module reads and writes
what they need in a store.

A video stimulus is a document of the ``stimuli`` collection with ``kind: "video"`` and, besides the image
stimulus fields (``width_px``, ``height_px``, ``format`` ``mp4``/``webm``, ``bytes``), ``fps``,
``frame_count`` and ``duration_s``. The store keeps the video bytes (blob ``stimuli/{id}/video``) and a
JPEG of its first frame as the stimulus image, so every image analysis works on a video too; the file
beside the store (:class:`~gazescope.storage.video_files.VideoFiles`) is what is served and decoded.

Samples recorded while a video plays carry ``stimulus_id`` and ``video_t_s`` (seconds into the video).
Every video a session watched is recorded in :data:`VIDEO_VIEWS` (deleted with the session); the sessions
of a video are those (:func:`sessions_watching`) or the listed ones. Each session's gaze is scaled from its
screen size (the session's, else the video's) into video pixels.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gazescope.analytics.events import FixationMethod
from gazescope.analytics.video import (
    Source,
    VideoViewer,
    video_aoi_report,
    viewer_gaze,
    window_counts,
    window_heatmap,
)
from gazescope.analytics.video_overlay import OverlayMode, render_overlay
from gazescope.errors import ValidationError
from gazescope.services.sessions import load_session
from gazescope.services.stimuli import STIMULI, StimulusData, load_stimulus, stimulus_blob_key
from gazescope.storage import Store
from gazescope.storage.video_files import VideoFiles, video_blob_key
from gazescope.vision.video import VIDEO_MEDIA_TYPES, VideoStimulusInfo, inspect_video, read_frame_at

VIDEO = "video"
"""The ``kind`` of a video stimulus document."""
VIDEO_VIEWS = "video_views"
"""Store collection: one document per (session, video) watched: ``session_id``, ``stimulus_id``."""
MAX_VIDEO_SESSIONS = 1000
"""Most sessions one video analysis reads."""
OVERLAY_WINDOW_STEP_S = 0.1
"""Overlay windows are rounded to this step, so nearly equal ``window_s`` share one cached render."""
OVERLAY_WINDOW_RANGE_S = (0.1, 30.0)
"""Overlay windows (s) accepted: a tenth of a second to half a minute, so at most 300 renders per
stimulus, mode and set of viewers."""


# --- video stimuli ----------------------------------------------------------------------------------


def is_video(doc: dict[str, Any]) -> bool:
    """True for the document of a video stimulus."""
    return doc.get("kind") == VIDEO


def media_type(doc: dict[str, Any]) -> str:
    """The HTTP media type of a video stimulus' file (``application/octet-stream`` when unknown)."""
    return VIDEO_MEDIA_TYPES.get(str(doc.get("format")), "application/octet-stream")


def list_videos(store: Store) -> list[dict[str, Any]]:
    """Video stimulus documents, oldest first (the order seed 004's ``RequestVideoURL`` hands them out)."""
    docs = [d for d in store.list_documents(STIMULI) if is_video(d)]
    docs.sort(key=lambda d: (d.get("created_at_ms") or 0.0, d["id"]))
    return docs


def _poster_jpeg(path: Path, fps: float) -> bytes:
    import cv2

    rgb = read_frame_at(path, 0.0, fps)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ValidationError("the first frame of the video could not be encoded as JPEG")
    return buf.tobytes()


def inspect_video_file(path: Path, *, max_width: int, max_height: int) -> tuple[VideoStimulusInfo, bytes]:
    """The video's facts and its first frame as JPEG (decodes every frame: one analytics job).
    Raises ``VideoReadError`` when it does not decode, ``FrameTooLargeError`` over the size limits."""
    info = inspect_video(path, max_width=max_width, max_height=max_height)
    return info, _poster_jpeg(path, info.fps)


def video_stimulus_doc(
    stimulus_id: str, name: str | None, fmt: str, size_bytes: int, info: VideoStimulusInfo
) -> dict[str, Any]:
    """The stimulus document of a checked video (``name`` defaults to the id)."""
    return {
        "id": stimulus_id,
        "name": name or stimulus_id,
        "kind": VIDEO,
        "width_px": info.width_px,
        "height_px": info.height_px,
        "format": fmt,
        "bytes": size_bytes,
        "created_at_ms": round(time.time() * 1000.0, 3),
        "fps": round(info.fps, 6),
        "frame_count": info.frame_count,
        "duration_s": round(info.duration_s, 6),
    }


def store_video_stimulus(store: Store, doc: dict[str, Any], data: bytes, poster_jpeg: bytes) -> None:
    """Store a video stimulus: its bytes, its poster as the stimulus image, its document. On failure
    the blobs written are deleted and the error raised (the caller removes the file)."""
    sid = str(doc["id"])
    try:
        store.put_blob(video_blob_key(sid), data)
        store.put_blob(stimulus_blob_key(sid), poster_jpeg)
        store.put_document(STIMULI, sid, doc)
    except BaseException:
        store.delete_blob(video_blob_key(sid))
        store.delete_blob(stimulus_blob_key(sid))
        raise


# --- who watched ------------------------------------------------------------------------------------


def record_video_view(store: Store, session_id: str, stimulus_id: str) -> None:
    """Note that ``session_id`` watched the video ``stimulus_id`` (idempotent)."""
    doc_id = f"{session_id}:{stimulus_id}"
    doc = {"id": doc_id, "session_id": session_id, "stimulus_id": stimulus_id, "at_ms": time.time() * 1000.0}
    store.put_document(VIDEO_VIEWS, doc_id, doc)


def sessions_watching(store: Store, stimulus_id: str) -> list[str]:
    """Ids of the sessions that watched the video: recorded views and sessions created on it."""
    ids = [str(d["session_id"]) for d in store.list_documents(VIDEO_VIEWS, stimulus_id=stimulus_id)]
    ids += [i.id for i in store.list_sessions(stimulus_id=stimulus_id, limit=1000)]
    return list(dict.fromkeys(ids))


def load_video(store: Store, stimulus_id: str) -> StimulusData:
    """The stimulus without its image, which must be a video. Raises ``NotFoundError``
    (``stimulus_not_found``) when unknown, ``ValidationError`` (``not_a_video``) for an image."""
    stim = load_stimulus(store, stimulus_id, image=False)
    if stim.doc.get("kind") != VIDEO:
        raise ValidationError(f"stimulus {stimulus_id!r} is not a video", code="not_a_video")
    return stim


def load_viewers(
    store: Store,
    stim: StimulusData,
    session_ids: Sequence[str] | None = None,
    *,
    profiles_dir: Any = None,
    method: FixationMethod = "idt",
) -> list[VideoViewer]:
    """The gaze on the video of each session that watched it (or of ``session_ids``; at most
    :data:`MAX_VIDEO_SESSIONS`), in video pixels; sessions without a sample on the video are left out.
    Raises ``SessionNotFoundError`` for a listed id that does not exist."""
    ids = list(session_ids) if session_ids else sessions_watching(store, stim.id)
    out = []
    for sid in ids[:MAX_VIDEO_SESSIONS]:
        data = load_session(store, sid, profiles_dir=profiles_dir)
        viewer = viewer_gaze(
            sid,
            data.samples,
            stim.id,
            screen_size_px=data.screen_size_px or stim.size_px,
            video_size_px=stim.size_px,
            calibration_accuracy_px=data.calibration_accuracy_px,
            method=method,
        )
        if viewer.samples:
            out.append(viewer)
    return out


def check_gaze(stim: StimulusData, viewers: Sequence[VideoViewer]) -> None:
    """Raise ``ValidationError`` (``no_gaze``) when no viewer has calibrated gaze on the video."""
    if not any(v.has_gaze for v in viewers):
        raise ValidationError(
            f"no session has calibrated gaze on video {stim.id!r} ({len(viewers)} session(s) watched it)",
            code="no_gaze",
        )


# --- analyses ---------------------------------------------------------------------------------------


def moment_heatmap_png(
    stim: StimulusData,
    video_path: Path,
    viewers: Sequence[VideoViewer],
    t_s: float,
    window_s: float,
    source: Source = "fixations",
    caption: bool = True,
) -> bytes:
    """PNG of the heatmap of the window of width ``window_s`` (s) centred on ``t_s`` (s), drawn on the
    video's frame at ``t_s`` with the AOIs shown then (see :func:`gazescope.analytics.video.window_heatmap`).
    Raises ``ValidationError`` (``no_gaze``, ``no_fixations``, ``t_s`` outside the video) when there is
    nothing to draw."""
    from gazescope.analytics.plots.moment_heatmap import render_moment_heatmap_png

    duration = float(stim.doc.get("duration_s") or 0.0)
    if not 0 <= t_s <= duration:
        raise ValidationError(f"t_s must be within 0..{duration:g} s (the video's duration)")
    check_gaze(stim, viewers)
    grid = window_heatmap(viewers, t_s, window_s, stim.size_px, source=source)
    if not grid.density.any():
        raise ValidationError(
            f"no {source} of video {stim.id!r} between {t_s - window_s / 2:g} s and {t_s + window_s / 2:g} s; "
            "widen window_s or try source=samples",
            code="no_fixations",
        )
    rgb = read_frame_at(video_path, t_s, float(stim.doc["fps"]))
    title = None
    if caption:
        title = (
            f"Video {t_s:.2f} s ± {window_s / 2:g} s: {grid.n_sessions} viewer(s), {grid.n_points} "
            f"{source}; σ = {grid.sigma_px:.0f} px"
        )
    aois = [
        a for a in stim.aois if (a.start_s or 0.0) <= t_s <= (a.end_s if a.end_s is not None else duration)
    ]
    return render_moment_heatmap_png(grid, rgb, title=title, aois=aois)


def video_report(stim: StimulusData, viewers: Sequence[VideoViewer], window_s: float = 1.0) -> dict[str, Any]:
    """JSON report of a video: its facts, the sessions, fixations per time window of ``window_s`` (s),
    AOI figures in their time ranges (per session and aggregated)."""
    duration = float(stim.doc.get("duration_s") or 0.0)
    return {
        "stimulus_id": stim.id,
        "name": stim.doc.get("name"),
        "duration_s": duration,
        "fps": stim.doc.get("fps"),
        "width_px": stim.doc.get("width_px"),
        "height_px": stim.doc.get("height_px"),
        "n_sessions": len(viewers),
        "session_ids": [v.session_id for v in viewers],
        "window_s": window_s,
        "windows": window_counts(viewers, window_s, duration) if duration > 0 else [],
        **video_aoi_report(list(stim.aois), viewers, duration),
    }


# --- overlay videos ---------------------------------------------------------------------------------


def overlay_window_s(window_s: float) -> float:
    """``window_s`` rounded to :data:`OVERLAY_WINDOW_STEP_S`, clamped to :data:`OVERLAY_WINDOW_RANGE_S`."""
    lo, hi = OVERLAY_WINDOW_RANGE_S
    return round(min(max(round(window_s / OVERLAY_WINDOW_STEP_S) * OVERLAY_WINDOW_STEP_S, lo), hi), 1)


def overlay_path(
    files: VideoFiles, stim: StimulusData, viewers: Sequence[VideoViewer], mode: OverlayMode, window_s: float
) -> Path:
    """Where the overlay of these inputs (mode, window after :func:`overlay_window_s`, sessions and
    their sample counts) is kept: ``<stimulus_video_dir>/overlays/<stimulus>-<mode>-<key>.mp4``."""
    key = hashlib.sha1(
        repr(
            (mode, overlay_window_s(window_s), sorted((v.session_id, len(v.samples)) for v in viewers))
        ).encode()
    ).hexdigest()[:16]
    return files.folder / "overlays" / f"{stim.id}-{mode}-{key}.mp4"


def overlay_file(
    files: VideoFiles,
    store: Store,
    stim: StimulusData,
    viewers: Sequence[VideoViewer],
    *,
    mode: OverlayMode = "heatmap",
    window_s: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
    max_frames: int | None = None,
    cache_bytes: int | None = None,
) -> Path:
    """The overlay MP4 of the video for these viewers (:func:`overlay_path`), rendered unless it was
    before. ``window_s`` is rounded by :func:`overlay_window_s`. Each render writes its own temporary
    file in the same folder and moves it in place whole, so concurrent renders of one overlay never see
    each other's half-written file. After a render the least recently used overlays beyond
    ``cache_bytes`` (bytes; None: no bound) are deleted. Raises ``ValidationError`` (``no_gaze``;
    ``video_too_long`` for a video of more than ``max_frames`` frames)."""
    check_gaze(stim, viewers)
    frames = int(stim.doc.get("frame_count") or 0)
    if max_frames is not None and frames > max_frames:
        raise ValidationError(
            f"the video has {frames} frames; overlays are rendered for at most {max_frames} "
            "(GAZESCOPE_VIDEO_OVERLAY_MAX_FRAMES)",
            code="video_too_long",
        )
    out = overlay_path(files, stim, viewers, mode, window_s)
    if out.is_file():
        _touch(out)
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    video = files.ensure(store, stim.id, str(stim.doc["format"]))
    fd, name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".part.mp4", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        render_overlay(video, tmp, viewers, mode=mode, window_s=overlay_window_s(window_s), progress=progress)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    if cache_bytes is not None:
        evict_overlays(out.parent, cache_bytes, keep=out)
    return out


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):  # evicted meanwhile: the caller's open fails clearly
        os.utime(path)


def evict_overlays(folder: Path, max_bytes: int, *, keep: Path | None = None) -> list[Path]:
    """Delete the least recently used (oldest mtime; a cache hit touches its file) overlay MP4s in
    ``folder`` until they total at most ``max_bytes``; ``keep`` and renders in progress (hidden
    temporary files) stay. Returns the files deleted."""
    entries = []
    for p in folder.glob("*.mp4"):
        if p.name.startswith(".") or p == keep:
            continue
        with contextlib.suppress(OSError):
            st = p.stat()
            entries.append((st.st_mtime, st.st_size, p))
    total = sum(size for _, size, _ in entries)
    if keep is not None:
        with contextlib.suppress(OSError):
            total += keep.stat().st_size
    deleted = []
    for _, size, p in sorted(entries, key=lambda e: e[0]):
        if total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            p.unlink()
            deleted.append(p)
        total -= size
    return deleted
