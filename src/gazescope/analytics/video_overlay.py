"""A video stimulus with its viewers' gaze drawn over every frame, written as MP4.

Modes:

* ``heatmap``: each frame shows the heatmap of the gaze samples of every viewer in the window
  ``[t - window_s / 2, t + window_s / 2)`` around the frame's time ``t`` (each viewer's map normalised, then
  averaged, Wooding 2002; Gaussian kernel from the calibration accuracy, see
  :func:`gazescope.analytics.heatmap.heatmap_sigma_px`), coloured with the jet map relative to the frame's
  peak and transparent where nobody looked (as :func:`gazescope.analytics.heatmap.render_heatmap_png`).
* ``points``: each viewer's gaze of the last ``window_s`` seconds as a fading trail, the newest point as a
  ring, one colour per viewer.

The output has the input's frame count, size and rate. With ``ffmpeg`` on the PATH frames are encoded as
H.264 (yuv420p, plays in browsers), else by OpenCV's ``mp4v`` (MPEG-4 part 2) writer.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from gazescope.analytics.heatmap import density_grid
from gazescope.analytics.video import VideoViewer
from gazescope.errors import ValidationError, VideoReadError

OverlayMode = Literal["heatmap", "points"]
MAX_ALPHA = 0.6
#: Viewer colours (BGR) of the ``points`` mode, from matplotlib's tab10.
VIEWER_COLOURS = (
    (180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148),
    (75, 86, 140), (194, 119, 227), (127, 127, 127), (34, 189, 188), (207, 190, 23),
)  # fmt: skip


class _Points:
    """One viewer's valid samples as arrays sorted by video time, for fast window lookups."""

    def __init__(self, viewer: VideoViewer) -> None:
        t, x, y = [], [], []
        for vt, s in zip(viewer.video_t_s, viewer.samples, strict=True):
            sx, sy = s.get("screen_x_px"), s.get("screen_y_px")
            if sx is None or sy is None or s.get("is_blinking") or s.get("on_screen") is False:
                continue
            t.append(float(vt))
            x.append(float(sx))
            y.append(float(sy))
        order = np.argsort(t, kind="stable")
        self.t = np.asarray(t)[order]
        self.x = np.asarray(x)[order]
        self.y = np.asarray(y)[order]
        self.sigma = viewer.sigma_px

    def window(self, t0: float, t1: float) -> slice:
        return slice(int(np.searchsorted(self.t, t0, "left")), int(np.searchsorted(self.t, t1, "left")))


def _heatmap_layer(frame: np.ndarray, viewers: Sequence[_Points], t0: float, t1: float) -> np.ndarray:
    h, w = frame.shape[:2]
    sigma = float(np.mean([v.sigma for v in viewers]))
    cell = max(1.0, round(sigma / 4.0))
    total = None
    used = 0
    for v in viewers:
        sl = v.window(t0, t1)
        if sl.stop <= sl.start:
            continue
        d = density_grid(v.x[sl], v.y[sl], None, width_px=w, height_px=h, sigma_px=sigma, cell_px=cell)
        if d.any():
            total = d if total is None else total + d
            used += 1
    if total is None:
        return frame
    rel = total / total.max()
    gh, gw = rel.shape
    # the grid may overhang the frame by less than a cell: resize the covered part to the frame
    big = cv2.resize(
        rel.astype(np.float32), (round(gw * cell), round(gh * cell)), interpolation=cv2.INTER_LINEAR
    )
    big = big[:h, :w]
    colour = cv2.applyColorMap(np.clip(big * 255.0, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    alpha = (MAX_ALPHA * np.clip((big - 0.02) / 0.33, 0.0, 1.0))[..., None]
    return (frame * (1.0 - alpha) + colour * alpha).astype(np.uint8)


def _points_layer(frame: np.ndarray, viewers: Sequence[_Points], t0: float, t1: float) -> np.ndarray:
    out = frame.copy()
    r = max(3, round(min(frame.shape[:2]) / 40))
    for k, v in enumerate(viewers):
        colour = VIEWER_COLOURS[k % len(VIEWER_COLOURS)]
        sl = v.window(t0, t1)
        xs, ys = v.x[sl], v.y[sl]
        n = len(xs)
        for i in range(n):
            p = (round(xs[i]), round(ys[i]))
            if i + 1 < n:
                cv2.line(out, p, (round(xs[i + 1]), round(ys[i + 1])), colour, 1, cv2.LINE_AA)
            cv2.circle(out, p, max(1, r // 3), colour, -1, cv2.LINE_AA)
        if n:
            cv2.circle(out, (round(xs[-1]), round(ys[-1])), r, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.circle(out, (round(xs[-1]), round(ys[-1])), r, colour, 2, cv2.LINE_AA)
    return out


class _Writer:
    """H.264 through ffmpeg when it is installed, else OpenCV's mp4v writer."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        w, h = size
        self.proc: subprocess.Popen[bytes] | None = None
        self.cv: cv2.VideoWriter | None = None
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg and w % 2 == 0 and h % 2 == 0:
            cmd = [
                ffmpeg, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}",
                "-r", f"{fps:.6f}", "-i", "-", "-an", "-c:v", "libx264", "-preset", "veryfast",
                "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path),
            ]  # fmt: skip
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        else:
            self.cv = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
            if not self.cv.isOpened():
                raise VideoReadError(f"OpenCV cannot write {path}")

    def write(self, frame: np.ndarray) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(frame.tobytes())
        else:
            assert self.cv is not None
            self.cv.write(frame)

    def close(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            if self.proc.wait() != 0:
                raise VideoReadError(f"ffmpeg could not encode the overlay: {err.strip()[:300]}")
        if self.cv is not None:
            self.cv.release()


def render_overlay(
    video_path: Path,
    out_path: Path,
    viewers: Sequence[VideoViewer],
    *,
    mode: OverlayMode = "heatmap",
    window_s: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Draw the viewers' gaze (in video px, see :func:`gazescope.analytics.video.viewer_gaze`) over every
    frame of ``video_path`` and write ``out_path`` (MP4). ``progress(done, total)`` after each frame
    (``total`` is the container's frame count, maybe approximate). Returns the frames written.

    Raises:
        ValidationError: unknown mode, ``window_s <= 0``, or no viewer.
        VideoReadError: the video cannot be read or the output cannot be written.
    """
    if mode not in ("heatmap", "points"):
        raise ValidationError(f"unknown overlay mode {mode!r}; available: 'heatmap', 'points'")
    if not window_s > 0:
        raise ValidationError(f"window_s must be > 0, got {window_s}")
    if not viewers:
        raise ValidationError("no session watched this video", code="no_gaze")
    pts = [_Points(v) for v in viewers]
    cap = cv2.VideoCapture(str(video_path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise VideoReadError("cannot open the stimulus video")
    writer: _Writer | None = None
    n = 0
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not fps > 0:
            raise VideoReadError("the video declares no frame rate")
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            if writer is None:
                writer = _Writer(out_path, fps, (frame.shape[1], frame.shape[0]))
            t = n / fps
            if mode == "heatmap":
                frame = _heatmap_layer(frame, pts, t - window_s / 2.0, t + window_s / 2.0)
            else:
                frame = _points_layer(frame, pts, t - window_s, t + 1.0 / fps)
            writer.write(frame)
            n += 1
            if progress is not None:
                progress(n, max(total, n))
    finally:
        cap.release()
        if writer is not None:
            writer.close()
    if n == 0:
        raise VideoReadError("no frame of the video could be decoded")
    return n
