"""``gazescope video-overlay``: render a video stimulus with its viewers' gaze over it, with a progress bar.

Example::

    gazescope video-overlay 3f2a... --db gazescope.db --out overlay.mp4 --mode heatmap --window 1
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from gazescope.cli.analytics import DbOpt, MethodOpt, RedisOpt, fixation_method, open_store
from gazescope.cli.common import fail
from gazescope.errors import GazescopeError, ValidationError


def video_overlay(
    stimulus_id: Annotated[str, typer.Argument(help="The video stimulus id.")],
    out: Annotated[Path, typer.Option("--out", help="MP4 file to write.", dir_okay=False)] = Path(
        "overlay.mp4"
    ),
    db: DbOpt = None,
    redis_url: RedisOpt = None,
    video_dir: Annotated[
        Path | None,
        typer.Option(
            "--video-dir", help="The service's stimulus_video_dir (default GAZESCOPE_STIMULUS_VIDEO_DIR)."
        ),
    ] = None,
    sessions: Annotated[
        list[str] | None,
        typer.Option("--session", help="Only these sessions (repeatable; default every viewer)."),
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="heatmap or points.")] = "heatmap",
    window: Annotated[float, typer.Option("--window", help="Window width in seconds.")] = 1.0,
    method: MethodOpt = "idt",
) -> None:
    """Write the video with the gaze heatmap (or gaze points) of every session that watched it."""
    from tqdm import tqdm

    from gazescope.analytics.video_overlay import render_overlay
    from gazescope.config import Settings
    from gazescope.services.videos import load_video, load_viewers
    from gazescope.storage.video_files import VideoFiles

    try:
        if mode not in ("heatmap", "points"):
            raise ValidationError(f"unknown --mode {mode!r}; available: heatmap, points")
        store = open_store(db, redis_url)
        stim = load_video(store, stimulus_id)
        viewers = load_viewers(store, stim, sessions, method=fixation_method(method))
        if not any(v.has_gaze for v in viewers):
            raise ValidationError(f"no session has calibrated gaze on video {stimulus_id!r}")
        files = VideoFiles(video_dir or Settings().stimulus_video_dir)
        video = files.ensure(store, stim.id, str(stim.doc["format"]))
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".part.mp4")
        with tqdm(total=int(stim.doc.get("frame_count") or 0), unit="frame", desc="overlay") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = max(bar.total or 0, total)
                bar.update(done - bar.n)

            n = render_overlay(video, tmp, viewers, mode=mode, window_s=window, progress=progress)  # type: ignore[arg-type]
        shutil.move(tmp, out)
    except GazescopeError as exc:
        fail(exc)
    typer.echo(f"wrote {out}: {n} frames, {len(viewers)} viewer(s)")
