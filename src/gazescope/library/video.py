"""``analyze_video``: a recorded video (or image folder) in, typed samples, blinks and the report out.

What ``gazescope analyze`` runs (:func:`gazescope.services.offline.track_video`), returned to Python
instead of written to files; :meth:`VideoAnalysis.write` writes the same files as that command. MediaPipe's
native log lines are kept out of the terminal (:func:`~gazescope.library.quiet.quiet_native_logs`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gazescope.config import Settings
from gazescope.domain import BlinkEvent, GazeSample
from gazescope.library.quiet import flush_native_logs, quiet_native_logs
from gazescope.services.offline import build_report, track_video, write_outputs

if TYPE_CHECKING:
    from gazescope.tracking.tracker import ScreenMapper


@dataclass(frozen=True, slots=True)
class VideoAnalysis:
    """The result of :func:`analyze_video`.

    ``samples``: one :class:`~gazescope.domain.GazeSample` per readable frame, ``t_ms`` = frame index x
    1000 / ``fps``. ``blinks``: the blink events (ms and frame indices, minimum EAR). ``report``: the session
    report ``gazescope analyze`` writes as ``report.json`` (frames, face share, blink rate, eye contact,
    attention, fixations and AOI figures when calibrated ...).
    """

    source: str
    fps: float
    samples: tuple[GazeSample, ...]
    blinks: tuple[BlinkEvent, ...]
    report: dict[str, Any]

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``samples.csv``, ``report.json`` and ``report.html`` into ``out_dir`` (created), as
        ``gazescope analyze --out`` does; returns the paths by name."""
        return write_outputs(Path(out_dir), [s.to_dict() for s in self.samples], self.report)


def analyze_video(
    path: str | Path,
    *,
    calibration: ScreenMapper | None = None,
    fps: float | None = None,
    settings: Settings | None = None,
    on_frame: Callable[[int, int], None] | None = None,
) -> VideoAnalysis:
    """Track every frame of a video file OpenCV reads (or a folder of images) with the live pipeline.

    Args:
        path: the video, or a folder of .jpg/.png/.bmp images in name order.
        calibration: a fitted calibration, to map gaze to the screen.
        fps: frame rate of an image folder (default 30), or to override the container's.
        settings: thresholds and landmark backend; None reads the ``GAZESCOPE_*`` environment.
        on_frame: progress callback, called with (frames done, frames the container declares).

    Raises:
        VideoReadError: missing or unreadable input.
    """

    def progress(done: int, total: int) -> None:
        flush_native_logs()  # the caller's own stderr lines, now
        if on_frame is not None:
            on_frame(done, total)

    with quiet_native_logs():
        samples, tracker, info = track_video(
            Path(path), settings=settings, calibration=calibration, fps=fps, on_frame=progress
        )
    report = build_report([s.to_dict() for s in samples], tracker, info.fps, calibration, source=str(path))
    return VideoAnalysis(str(path), info.fps, tuple(samples), tuple(tracker.blink_events), report)
