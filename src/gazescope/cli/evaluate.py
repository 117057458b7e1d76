"""``gazescope evaluate``: blink detection, attention and eye contact, and screen-point gaze accuracy against labelled data
(protocols of ../shared/data/README.md and docs/evaluation.md; :mod:`gazescope.evaluation` does the work)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gazescope.cli.common import fail, write_json
from gazescope.config import Settings
from gazescope.errors import GazescopeError
from gazescope.library.quiet import quiet_native_logs

evaluate_app = typer.Typer(help="Evaluate against labelled data (protocols of ../shared/data/README.md).")


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
    jobs: Annotated[
        int, typer.Option(min=1, help="Clips scored at a time in separate processes (--protocol all).")
    ] = 1,
) -> None:
    """Blink detection (causal tracker) against .tag annotations: per clip and overall P/R/F1."""
    from gazescope.evaluation.blink import evaluate_blinks

    if protocol == "loso":
        _evaluate_blink_loso(directory, cache, json_out)
        return
    if protocol != "all":
        fail(ValueError(f"unknown protocol {protocol!r} (all, loso)"))
    try:
        res = evaluate_blinks(directory, Settings(), progress=True, workers=jobs).to_dict()
    except GazescopeError as exc:
        fail(exc)
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
    write_json(res, json_out)


def _evaluate_blink_loso(directory: Path, cache: Path | None, json_out: Path | None) -> None:
    from gazescope.evaluation.blink_loso import evaluate_loso

    try:
        res = evaluate_loso(directory, Settings(), cache_dir=cache).to_dict()
    except GazescopeError as exc:
        fail(exc)
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
    write_json(res, json_out)


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
        fail(exc)
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
    write_json(res, json_out)


_SHORT = {"eye_contact": "eye contact", "looking_away": "looking away", "eyes_closed": "eyes closed"}


def _class_line(label: str, classes: dict[str, Any]) -> str:
    cells = []
    for cls, name in _SHORT.items():
        c = classes[cls]
        cells.append(
            f"{name} {c['f1']:.3f} (P {c['precision']:.2f} R {c['recall']:.2f}, n+ {c['positives']})"
        )
    return f"{label:<34} " + "  ".join(cells)


def _print_attention(res: dict[str, Any], per_source: list[dict[str, Any]]) -> None:
    for r in per_source:
        typer.echo(
            _class_line(r["source"][-34:], r["classes"])
            + f"  focused {r['focused_share']:.2f} vs toward {r['toward_share']:.2f}"
        )
    typer.echo(_class_line("overall", res["overall"]))
    typer.echo(
        f"largest excess of focused over the labelled toward-device share: {res['max_focused_excess']:+.3f}"
    )


@evaluate_app.command("attention")
def evaluate_attention_cmd(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder with labels.csv (shared/data/attention); sources relative to its parent."
        ),
    ],
    protocol: Annotated[
        str,
        typer.Option(
            help="'all': the current settings on every source; 'loso': thresholds chosen on the other sources, "
            "scored on each held-out source in turn, beside the defaults and the choice on all sources."
        ),
    ] = "all",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the figures as JSON here.")] = None,
    cache: Annotated[
        Path | None, typer.Option(help="Folder caching per-video landmarks (Face Mesh runs once a video).")
    ] = Path.home() / ".cache" / "gazescope" / "landmarks",
) -> None:
    """Attention and eye contact (causal tracker) against hand labels: per class P/R/F1, per source."""
    from gazescope.evaluation.attention import evaluate_sources, load_sources

    if protocol not in ("all", "loso"):
        fail(ValueError(f"unknown protocol {protocol!r} (all, loso)"))
    settings = Settings()
    try:
        with quiet_native_logs():  # Face Mesh runs for sources not yet cached
            sources = load_sources(directory, settings, cache)
    except (GazescopeError, ValueError) as exc:
        fail(exc)
    if protocol == "all":
        res = evaluate_sources(sources, settings).to_dict()
        _print_attention(res, res["sources"])
        typer.echo("confusion (labelled state -> predicted states):")
        for lab, row in res["confusion"].items():
            typer.echo(f"  {lab:<13} " + ", ".join(f"{k} {v}" for k, v in sorted(row.items())))
        write_json(res, json_out)
        return
    from gazescope.evaluation.attention_loso import evaluate_loso

    loso = evaluate_loso(sources, settings).to_dict()
    typer.echo("held-out sources (thresholds chosen on the others):")
    _print_attention(loso["loso"], loso["folds"])
    for f in loso["folds"]:
        typer.echo(f"  {f['source']}: " + ", ".join(f"{k} {v:g}" for k, v in f["params"].items()))
    typer.echo(_class_line("defaults, all sources", loso["defaults"]["overall"]))
    typer.echo(_class_line("chosen on all sources", loso["all_sources"]["overall"]))
    typer.echo(
        "  chosen on all: " + ", ".join(f"{k} {v:g}" for k, v in loso["all_sources"]["params"].items())
    )
    typer.echo(f"tracker runs {loso['grid_runs']}, sources {len(loso['folds'])}")
    write_json(loso, json_out)
