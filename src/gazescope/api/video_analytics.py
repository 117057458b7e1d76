"""Analyses of a video stimulus over the sessions that watched it (sync: the API runs these in its
thread pools, the CLI calls them directly). The science is in :mod:`gazescope.analytics.video` and
:mod:`gazescope.analytics.video_overlay`; this module loads what they need from a store.

Sessions of a video: those recorded in ``video_views`` or created on it
(:func:`gazescope.api.video_time.sessions_watching`), or the listed ones. Each session's gaze is scaled
from its screen size (the session's, else the video's) into video pixels.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2

from gazescope.analytics.events import FixationMethod
from gazescope.analytics.plots.heatmap import render_heatmap_png
from gazescope.analytics.video import (
    Source,
    VideoViewer,
    video_aoi_report,
    viewer_gaze,
    window_counts,
    window_heatmap,
)
from gazescope.analytics.video_overlay import OverlayMode, render_overlay
from gazescope.api.routes.analytics import StimulusData, load_session, load_stimulus
from gazescope.api.video_time import sessions_watching
from gazescope.errors import ValidationError
from gazescope.storage import Store
from gazescope.storage.video_files import VideoFiles
from gazescope.vision.video import read_frame_at

MAX_VIDEO_SESSIONS = 1000
"""Most sessions one video analysis reads."""


def load_video(store: Store, stimulus_id: str) -> StimulusData:
    """The stimulus, which must be a video (ValidationError ``not_a_video`` otherwise)."""
    stim = load_stimulus(store, stimulus_id, image=False)
    if stim.doc.get("kind") != "video":
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
    """The gaze on the video of each session that watched it (or of ``session_ids``); sessions without a
    sample on the video are left out."""
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


def _no_gaze(stim: StimulusData, viewers: Sequence[VideoViewer]) -> None:
    if not any(v.has_gaze for v in viewers):
        raise ValidationError(
            f"no session has calibrated gaze on video {stim.id!r} ({len(viewers)} session(s) watched it)",
            code="no_gaze",
        )


def moment_heatmap_png(
    stim: StimulusData,
    video_path: Path,
    viewers: Sequence[VideoViewer],
    t_s: float,
    window_s: float,
    source: Source = "fixations",
    caption: bool = True,
) -> bytes:
    """PNG of the heatmap of the window of width ``window_s`` centred on ``t_s``, drawn on the video's
    frame at ``t_s`` (see :func:`gazescope.analytics.video.window_heatmap`). ValidationError
    (``no_gaze``, ``no_fixations``, bad times) when there is nothing to draw."""
    duration = float(stim.doc.get("duration_s") or 0.0)
    if not 0 <= t_s <= duration:
        raise ValidationError(f"t_s must be within 0..{duration:g} s (the video's duration)")
    _no_gaze(stim, viewers)
    grid = window_heatmap(viewers, t_s, window_s, stim.size_px, source=source)
    if not grid.density.any():
        raise ValidationError(
            f"no {source} of video {stim.id!r} between {t_s - window_s / 2:g} s and {t_s + window_s / 2:g} s; "
            "widen window_s or try source=samples",
            code="no_fixations",
        )
    rgb = read_frame_at(video_path, t_s, float(stim.doc["fps"]))
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    title = None
    if caption:
        title = (
            f"Video {t_s:.2f} s ± {window_s / 2:g} s: {grid.n_sessions} viewer(s), {grid.n_points} "
            f"{source}; σ = {grid.sigma_px:.0f} px"
        )
    aois = [
        a for a in stim.aois if (a.start_s or 0.0) <= t_s <= (a.end_s if a.end_s is not None else duration)
    ]
    return render_heatmap_png(grid, stimulus_image=buf.tobytes(), title=title, aois=aois)


def video_report(stim: StimulusData, viewers: Sequence[VideoViewer], window_s: float = 1.0) -> dict[str, Any]:
    """JSON report of a video: its facts, the sessions, fixations per time window, AOI figures in their
    time ranges (per session and aggregated)."""
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


OVERLAY_WINDOW_STEP_S = 0.1
"""Overlay windows are rounded to this step, so nearly equal ``window_s`` share one cached render."""
OVERLAY_WINDOW_RANGE_S = (0.1, 30.0)
"""Overlay windows (s) accepted: a tenth of a second to half a minute, so at most 300 renders per
stimulus, mode and set of viewers."""


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
    each other's half-written file (the API also runs one render per overlay at a time). After a render
    the least recently used overlays beyond ``cache_bytes`` (bytes; None: no bound) are deleted.
    ValidationError (``video_too_long``) for a video of more than ``max_frames`` frames."""
    _no_gaze(stim, viewers)
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


async def moment_png(
    state: Any,
    stimulus_id: str,
    session_ids: Sequence[str] | None,
    t_s: float,
    window_s: float,
    *,
    source: Source = "fixations",
    method: FixationMethod = "idt",
    caption: bool = True,
) -> bytes:
    """:func:`moment_heatmap_png` for the service (``state``: :class:`gazescope.api.state.AppState`)."""
    stim = await state.io(load_video, state.store, stimulus_id)
    viewers = await state.io(
        load_viewers, state.store, stim, session_ids, profiles_dir=state.settings.profiles_dir, method=method
    )
    files = VideoFiles(state.settings.stimulus_video_dir)
    path = await state.io(files.ensure, state.store, stim.id, str(stim.doc["format"]))
    return await state.cpu(moment_heatmap_png, stim, path, viewers, t_s, window_s, source, caption)
