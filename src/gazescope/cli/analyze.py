"""``gazescope analyze``: the live pipeline over a recorded video or image folder
(:mod:`gazescope.services.offline`), with a progress bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gazescope.cli.common import fail, settings_error
from gazescope.config import Settings
from gazescope.errors import CalibrationError, GazescopeError
from gazescope.library.quiet import quiet_native_logs

if TYPE_CHECKING:
    from gazescope.calibration.profile import FittedCalibration


def load_profile(path: Path) -> FittedCalibration:
    """A calibration profile file: the bare profile JSON, or the document ``GET /api/profiles/{id}``
    answers (``{"profile": {...}, ...}``). Raises ``CalibrationError`` when it cannot be read."""
    from gazescope.calibration.profile import FittedCalibration

    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CalibrationError(f"cannot read calibration profile {path}: {exc}") from exc
    if isinstance(doc, dict) and isinstance(doc.get("profile"), dict):
        doc = doc["profile"]
    return FittedCalibration.from_json(json.dumps(doc))


def analyze(
    video: Annotated[Path, typer.Argument(help="A video OpenCV reads, or a folder of images.")],
    out: Annotated[
        Path, typer.Option("--out", help="Output folder for samples.csv, report.json, report.html.")
    ],
    calibration: Annotated[
        Path | None,
        typer.Option("--calibration", help="A calibration profile (JSON) to map gaze to the screen."),
    ] = None,
    fps: Annotated[float | None, typer.Option(help="Frame rate for image folders (default 30).")] = None,
    backend: Annotated[str | None, typer.Option(help="Landmark backend: mediapipe or dlib.")] = None,
) -> None:
    """Analyse a recorded video with the live pipeline; writes samples, a report and plots."""
    from tqdm import tqdm

    from gazescope.services.offline import analyze_video, write_outputs

    try:
        settings = Settings(landmark_backend=backend) if backend else Settings()
    except Exception as exc:  # pydantic.ValidationError: a bad GAZESCOPE_* value or option
        fail(settings_error(exc, {"landmark_backend": "--backend"}))
    try:
        cal = None
        if calibration is not None:
            cal = load_profile(calibration)
        with quiet_native_logs():  # MediaPipe's native log lines stay off the progress bar
            bar = tqdm(unit="frame", desc="analyze")

            def progress(done: int, total: int) -> None:
                if total and bar.total != total:
                    bar.total = total
                bar.update(done - bar.n)

            samples, report = analyze_video(
                video, settings=settings, calibration=cal, fps=fps, on_frame=progress
            )
            bar.close()
        files = write_outputs(out, samples, report, settings)
    except GazescopeError as exc:
        fail(exc)
    typer.echo(
        f"{report['frames']} frames, face in {report['frames_with_face']}, {report['blink_count']} blinks "
        f"({report['blink_rate_per_min']:.1f}/min), eye contact {report['eye_contact_pct']:.1f}%, "
        f"attention {report['attention_mean']:.2f}"
    )
    dq = report["data_quality"]
    typer.echo(f"data quality: {dq['status']}" + (f" ({', '.join(dq['failed'])})" if dq["failed"] else ""))
    for f in files.values():
        typer.echo(f"wrote {f}")
