"""The ``gazescope`` command line: serve, analyze, evaluate, bench (and analytics commands)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from gazescope import cli_analytics, cli_video
from gazescope.config import Settings
from gazescope.errors import GazescopeError

app = typer.Typer(
    help="gazescope: webcam gaze and attention tracking (service, offline analysis, evaluation).",
    no_args_is_help=True,
    add_completion=False,
)
evaluate_app = typer.Typer(help="Evaluate against labelled data (protocols of ../shared/data/README.md).")
app.add_typer(evaluate_app, name="evaluate")


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _write_json(data: dict, path: Path | None) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, default=str))
        typer.echo(f"wrote {path}")


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default GAZESCOPE_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default GAZESCOPE_PORT or 8000).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Server processes on the port (default GAZESCOPE_WORKERS or 1); >1 needs Redis."),
    ] = None,
) -> None:
    """Run the tracking service (FastAPI on uvicorn): REST API, WebSockets, browser app at /app/."""
    import uvicorn

    if workers is not None:
        os.environ["GAZESCOPE_WORKERS"] = str(workers)  # checked by Settings: > 1 only with Redis
    try:
        settings = Settings()
    except Exception as exc:  # pydantic.ValidationError: a bad GAZESCOPE_* value
        _fail(exc)
    host = host or settings.host
    port = port or settings.port
    os.environ["GAZESCOPE_HOST"] = host  # the app factory reads Settings again: it must see the bound host
    typer.echo(
        f"gazescope serving on http://{host}:{port}/ (store: {settings.store_kind}, "
        f"{settings.workers} process{'es' if settings.workers > 1 else ''})"
    )
    uvicorn.run(
        "gazescope.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level,
        ws_max_size=settings.max_message_bytes,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_timeout_s,
        ws_per_message_deflate=settings.ws_per_message_deflate,
        access_log=False,
        workers=settings.workers if settings.workers > 1 else None,
    )


def _load_profile(path: Path):
    """A calibration profile file: the bare profile JSON, or the document ``GET /api/profiles/{id}`` answers
    (``{"profile": {...}, ...}``)."""
    from gazescope.calibration.profile import FittedCalibration
    from gazescope.errors import CalibrationError

    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CalibrationError(f"cannot read calibration profile {path}: {exc}") from exc
    if isinstance(doc, dict) and isinstance(doc.get("profile"), dict):
        doc = doc["profile"]
    return FittedCalibration.from_json(json.dumps(doc))


@app.command()
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

    from gazescope.offline import analyze_video, write_outputs

    try:
        settings = Settings(landmark_backend=backend) if backend else Settings()
        cal = None
        if calibration is not None:
            cal = _load_profile(calibration)
        bar = tqdm(unit="frame", desc="analyze")

        def progress(done: int, total: int) -> None:
            if total and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        samples, report = analyze_video(video, settings=settings, calibration=cal, fps=fps, on_frame=progress)
        bar.close()
        files = write_outputs(out, samples, report)
    except GazescopeError as exc:
        _fail(exc)
    typer.echo(
        f"{report['frames']} frames, face in {report['frames_with_face']}, {report['blink_count']} blinks "
        f"({report['blink_rate_per_min']:.1f}/min), eye contact {report['eye_contact_pct']:.1f}%, "
        f"attention {report['attention_mean']:.2f}"
    )
    for f in files.values():
        typer.echo(f"wrote {f}")


@evaluate_app.command("blink")
def evaluate_blink(
    directory: Annotated[Path, typer.Argument(help="Folder with video clips and their .tag annotations.")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the figures as JSON here.")] = None,
    protocol: Annotated[
        str,
        typer.Option(
            help="'all': the current thresholds on every clip; 'loso': thresholds chosen on the other "
            "subjects, scored on each held-out subject in turn (docs/evaluation.md)."
        ),
    ] = "all",
    cache: Annotated[
        Path | None,
        typer.Option(
            help="Folder caching per-clip EAR series for --protocol loso (Face Mesh runs once a clip)."
        ),
    ] = Path.home() / ".cache" / "gazescope" / "ear-series",
) -> None:
    """Blink detection (causal tracker) against .tag annotations: per clip and overall P/R/F1."""
    from gazescope.evaluation.blink import evaluate_blinks

    if protocol == "loso":
        _evaluate_blink_loso(directory, cache, json_out)
        return
    if protocol != "all":
        _fail(ValueError(f"unknown protocol {protocol!r} (all, loso)"))
    try:
        res = evaluate_blinks(directory, Settings(), progress=True).to_dict()
    except GazescopeError as exc:
        _fail(exc)
    typer.echo(f"{'clip':<40} {'true':>5} {'det':>5} {'match':>5} {'P':>6} {'R':>6} {'F1':>6}")
    for c in res["clips"]:
        name = (
            str(Path(c["clip"]).relative_to(directory)) if directory in Path(c["clip"]).parents else c["clip"]
        )
        typer.echo(
            f"{name:<40} {c['true']:>5} {c['detected']:>5} {c['matched']:>5} "
            f"{c['precision']:>6.3f} {c['recall']:>6.3f} {c['f1']:>6.3f}"
        )
    o = res["overall"]
    typer.echo(
        f"{'overall':<40} {o['true']:>5} {o['detected']:>5} {o['matched']:>5} "
        f"{o['precision']:>6.3f} {o['recall']:>6.3f} {o['f1']:>6.3f}"
    )
    _write_json(res, json_out)


def _evaluate_blink_loso(directory: Path, cache: Path | None, json_out: Path | None) -> None:
    from gazescope.evaluation.blink_loso import evaluate_loso

    try:
        res = evaluate_loso(directory, Settings(), cache_dir=cache).to_dict()
    except GazescopeError as exc:
        _fail(exc)
    typer.echo(
        f"{'held-out subject':<18} {'true':>5} {'det':>5} {'match':>5} {'F1':>6} {'F1 defaults':>12}  chosen"
    )
    for f in res["folds"]:
        p = f["params"]
        typer.echo(
            f"{f['subject']:<18} {f['true']:>5} {f['detected']:>5} {f['matched']:>5} {f['f1']:>6.3f} "
            f"{f['f1_defaults']:>12.3f}  thr {p['threshold_ratio']} rel {p['release_ratio']} "
            f"depth {p['depth_ratio']} reopen {p['reopen_max_ms']:g} min {p['min_ms']:g}"
        )
    for name in ("loso", "defaults", "all_subjects_best"):
        o = res[name]
        label = {
            "loso": "leave-subject-out",
            "defaults": "defaults, all",
            "all_subjects_best": "tuned on all",
        }
        typer.echo(
            f"{label[name]:<18} {o['true']:>5} {o['detected']:>5} {o['matched']:>5} "
            f"P {o['precision']:.3f} R {o['recall']:.3f} F1 {o['f1']:.3f}"
        )
    for name, o in res["conditions"].items():
        typer.echo(
            f"  held out, {name:<14} {o['true']:>5} {o['detected']:>5} {o['matched']:>5} "
            f"P {o['precision']:.3f} R {o['recall']:.3f} F1 {o['f1']:.3f}"
        )
    typer.echo(f"grid points {res['grid_size']}, clips {res['clips']}")
    _write_json(res, json_out)


@evaluate_app.command("gaze")
def evaluate_gaze_cmd(
    directory: Annotated[Path, typer.Argument(help="Folder with labels.csv and the images it names.")],
    mapper: Annotated[str, typer.Option(help="Mapper name from the registry (e.g. ridge, cnn).")] = "ridge",
    views: Annotated[
        bool,
        typer.Option(
            help="Average Face Mesh over mirrored and 0.9x/1.1x zoomed copies of each image (6 passes a frame: "
            "for offline calibration, not the live path)."
        ),
    ] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the figures as JSON here.")] = None,
    protocol: Annotated[
        str,
        typer.Option(
            help="session: one sitting calibrates, the others are scored (data README); pooled: all other "
            "sittings calibrate each sitting; online: as pooled, plus each click of the scored sitting "
            "refits before the next (weighted --weight); profile: each sitting calibrates (weighted --weight) "
            "pooled with the others but the scored one, the others are scored."
        ),
    ] = "session",
    weight: Annotated[
        float, typer.Option(help="--protocol online: weight of the new sitting's clicks.")
    ] = 3.0,
    stretch: Annotated[
        bool, typer.Option(help="Ridge: per-axis slope stretch fitted by leave-one-out.")
    ] = False,
) -> None:
    """Screen-point gaze accuracy: each session calibrates, the subject's other sessions are scored."""
    from gazescope.calibration.features import DEFAULT_ZOOMS
    from gazescope.evaluation.gaze import evaluate_gaze

    params = {"stretch": True} if stretch else None
    try:
        res = evaluate_gaze(
            directory,
            mapper=mapper,
            settings=Settings(),
            mirror=views,
            zooms=DEFAULT_ZOOMS if views else (),
            mapper_params=params,
            protocol=protocol,
            weight=weight,
        ).to_dict()
    except GazescopeError as exc:
        _fail(exc)
    typer.echo(
        f"mapper: {res['mapper']}, protocol {protocol}"
        + (f" (weight {weight:g})" if protocol in ("online", "profile") else "")
        + (", stretch" if stretch else "")
        + (" (mirrored + zoomed views)" if views else "")
    )
    typer.echo(f"{'subject':<12} {'n':>6} {'mean px':>9} {'median px':>10} {'% width':>8}")
    for name, r in res["subjects"].items():
        typer.echo(
            f"{name:<12} {r['n']:>6} {r['mean_error_px']:>9.1f} {r['median_error_px']:>10.1f} "
            f"{r['mean_error_pct_width']:>8.1f}"
        )
    o = res["overall"]
    typer.echo(
        f"{'overall':<12} {o['n']:>6} {o['mean_error_px']:>9.1f} {o['median_error_px']:>10.1f} "
        f"{o['mean_error_pct_width']:>8.1f}"
    )
    _write_json(res, json_out)


@app.command()
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
    from gazescope.benchmark import run_bench

    try:
        res = run_bench(video, quality=quality, max_frames=max_frames, pin_one_core=not all_cores)
    except GazescopeError as exc:
        _fail(exc)
    typer.echo(f"frames {res['frames']}, with a face {res['frames_with_face']} (timed), cpu {res['cpu']}")
    typer.echo(f"{'stage':<10} {'p50 ms':>8} {'p95 ms':>8}")
    for name, st in res["stages"].items():
        typer.echo(f"{name:<10} {st['p50']:>8.3f} {st['p95']:>8.3f}")
    typer.echo(
        f"total / landmarks (p50): {res['ratio_total_to_landmarks']:.3f}; "
        f"without decode: {res['ratio_pipeline_to_landmarks']:.3f}"
    )
    _write_json(res, json_out)


app.command("heatmap")(cli_analytics.heatmap)
app.command("report")(cli_analytics.report)
app.command("video-overlay")(cli_video.video_overlay)


def main() -> None:  # pragma: no cover - console entry
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
