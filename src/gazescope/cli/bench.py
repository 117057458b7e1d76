"""``gazescope bench``: where the milliseconds of one frame go, on one core
(:func:`gazescope.evaluation.bench.run_bench`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gazescope.cli.common import fail, write_json
from gazescope.errors import GazescopeError


def bench(
    video: Annotated[Path, typer.Argument(help="A video (e.g. desk_webcam_640x480.avi).")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the figures as JSON here.")] = None,
    quality: Annotated[
        int, typer.Option(help="JPEG quality of the re-encoded frames (browser default 70).")
    ] = 70,
    max_frames: Annotated[int, typer.Option(help="Frames to time at most.")] = 100000,
    all_cores: Annotated[bool, typer.Option(help="Do not pin to one core.")] = False,
) -> None:
    """Per-frame milliseconds of each stage on one core: JPEG decode, raw landmark inference, measures,
    tracking, total (frames with a face only)."""
    from gazescope.evaluation.bench import run_bench

    try:
        res = run_bench(video, quality=quality, max_frames=max_frames, pin_one_core=not all_cores)
    except GazescopeError as exc:
        fail(exc)
    typer.echo(f"frames {res['frames']}, with a face {res['frames_with_face']} (timed), cpu {res['cpu']}")
    typer.echo(f"{'stage':<10} {'p50 ms':>8} {'p95 ms':>8}")
    for name, st in res["stages"].items():
        typer.echo(f"{name:<10} {st['p50']:>8.3f} {st['p95']:>8.3f}")
    typer.echo(
        f"total / landmarks (p50): {res['ratio_total_to_landmarks']:.3f}; "
        f"without decode: {res['ratio_pipeline_to_landmarks']:.3f}"
    )
    write_json(res, json_out)
