"""``gazescope heatmap`` and ``gazescope report``: analytics figures and reports from the command line.

Sources (pick one kind):

* stored sessions: ``--db PATH`` (a SQLite file written by ``gazescope serve``) or ``--redis-url URL``,
  with session ids as arguments, and/or ``--stimulus ID`` (every session on that stimulus, or the given
  ids restricted to it), or ``--user ID`` (every session of a user);
* ``gazescope analyze`` output folders: ``--folder DIR`` (repeatable; each holds ``samples.csv`` and
  ``report.json``), optionally with ``--image FILE`` (the stimulus shown, JPEG/PNG) and ``--aois FILE``
  (a JSON list of AOIs in stimulus px, or ``{"aois": [...]}``).

One session gives that session's figure/report; several give the aggregate (each viewer weighing the same;
per-AOI % viewers, dwell and time to first fixation). The computations are the API's
(:mod:`gazescope.services`), so files and HTTP answers agree.

Examples::

    gazescope heatmap --db gazescope.db --stimulus 3f2a... --out stimulus.png
    gazescope heatmap --db gazescope.db 9b1c... --kind scanpath --overlay --out scanpath.png
    gazescope heatmap --redis-url redis://localhost:6379/0 --user alice --out alice.png
    gazescope report --db gazescope.db --stimulus 3f2a... --out reports/landing
    gazescope report --folder out/run1 --folder out/run2 --image page.png --aois aois.json --out reports/runs
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, cast

import typer

from gazescope.cli.common import fail, write_file
from gazescope.errors import GazescopeError, ValidationError

if TYPE_CHECKING:
    from gazescope.services.figures import FigureKind, Source
    from gazescope.services.sessions import SessionData
    from gazescope.services.stimuli import StimulusData
    from gazescope.storage import Store

DbOpt = Annotated[
    Path | None, typer.Option("--db", help="SQLite database of a gazescope service.", dir_okay=False)
]
RedisOpt = Annotated[str | None, typer.Option("--redis-url", help="Redis URL of a gazescope service.")]
StimulusOpt = Annotated[str | None, typer.Option("--stimulus", help="Every session on this stimulus id.")]
UserOpt = Annotated[str | None, typer.Option("--user", help="Every session of this user id.")]
FolderOpt = Annotated[
    list[Path] | None,
    typer.Option("--folder", help="A `gazescope analyze` output folder (repeatable).", file_okay=False),
]
ImageOpt = Annotated[
    Path | None,
    typer.Option("--image", help="Stimulus image (JPEG/PNG) for --folder sources.", dir_okay=False),
]
AoisOpt = Annotated[
    Path | None, typer.Option("--aois", help="AOIs JSON (stimulus px) for --folder sources.", dir_okay=False)
]
IdsArg = Annotated[list[str] | None, typer.Argument(help="Session ids (with --db or --redis-url).")]
MethodOpt = Annotated[str, typer.Option("--method", help="Fixation method: idt or ivt.")]


def fixation_method(method: str) -> Literal["idt", "ivt"]:
    """``--method`` checked: ``idt`` or ``ivt``, else ``ValidationError`` listing both."""
    if method not in ("idt", "ivt"):
        raise ValidationError(f"unknown fixation method {method!r}; available: idt, ivt")
    return method  # type: ignore[return-value]


def open_store(db: Path | None, redis_url: str | None) -> Store:
    """The store named by ``--db`` (must exist: a typo never creates an empty database) or
    ``--redis-url``. ``ValidationError`` when both or neither are given."""
    if (db is None) == (redis_url is None):
        raise ValidationError("give exactly one of --db PATH or --redis-url URL")
    if db is not None:
        from gazescope.storage import SQLiteStore

        if not db.is_file():
            raise ValidationError(f"no database file at {db}")
        return SQLiteStore(db)
    from gazescope.storage import RedisStore

    store = RedisStore(redis_url or "")
    if not store.ping():
        raise ValidationError("the Redis server does not answer at the given --redis-url")
    return store


def gather(
    ids: list[str] | None,
    db: Path | None,
    redis_url: str | None,
    stimulus: str | None,
    user: str | None,
    folders: list[Path] | None,
    image: Path | None,
    aois: Path | None,
) -> tuple[list[SessionData], StimulusData | None]:
    """The sessions and (optional) stimulus the options select. ``ValidationError`` for a contradictory
    or empty selection."""
    from gazescope.services.sessions import load_folder, load_sessions, select_sessions
    from gazescope.services.stimuli import load_stimulus, stimulus_from_files

    if folders:
        if ids or stimulus or user or db or redis_url:
            raise ValidationError("--folder cannot be combined with stored-session options")
        return [load_folder(f) for f in folders], stimulus_from_files(image, aois)
    if image or aois:
        raise ValidationError("--image/--aois go with --folder; stored sessions use their stimulus")
    if not (ids or stimulus or user):
        raise ValidationError("name session ids, --stimulus ID or --user ID (or use --folder)")
    store = open_store(db, redis_url)
    try:
        infos = select_sessions(store, stimulus_id=stimulus, user_id=user, session_ids=ids)
        if not infos:
            raise ValidationError("no session matches the selection")
        datas = load_sessions(store, infos)
        stim_ids = {d.info.stimulus_id for d in datas}
        stim = None
        sid = stimulus or (next(iter(stim_ids)) if len(stim_ids) == 1 else None)
        if sid:
            try:
                stim = load_stimulus(store, sid)
            except GazescopeError:
                if stimulus:
                    raise
        return datas, stim
    finally:
        store.close()


def heatmap(
    ids: IdsArg = None,
    out: Annotated[Path, typer.Option("--out", help="PNG file to write.", dir_okay=False)] = Path(
        "heatmap.png"
    ),
    db: DbOpt = None,
    redis_url: RedisOpt = None,
    stimulus: StimulusOpt = None,
    user: UserOpt = None,
    folder: FolderOpt = None,
    image: ImageOpt = None,
    aois: AoisOpt = None,
    kind: Annotated[
        str, typer.Option("--kind", help="heatmap, or for one session scanpath or trail.")
    ] = "heatmap",
    overlay: Annotated[
        bool | None,
        typer.Option("--overlay/--no-overlay", help="Draw on the stimulus (default: when known)."),
    ] = None,
    transparent: Annotated[
        bool, typer.Option("--transparent", help="RGBA heatmap only (no background).")
    ] = False,
    source: Annotated[str, typer.Option("--source", help="fixations or samples.")] = "fixations",
    method: MethodOpt = "idt",
) -> None:
    """Write a gaze heatmap (or one session's scanpath/trail) PNG of stored sessions or analyze folders."""
    from gazescope.services.figures import aggregate_heatmap_png, session_figure_png

    try:
        m = fixation_method(method)
        if source not in ("fixations", "samples"):
            raise ValidationError(f"unknown --source {source!r}; available: fixations, samples")
        if kind not in ("heatmap", "scanpath", "trail"):
            raise ValidationError(f"unknown --kind {kind!r}; available: heatmap, scanpath, trail")
        figure, src = cast("FigureKind", kind), cast("Source", source)  # checked just above
        datas, stim = gather(ids, db, redis_url, stimulus, user, folder, image, aois)
        draw_on = (stim is not None and not transparent) if overlay is None else overlay
        if len(datas) == 1:
            png = session_figure_png(
                datas[0],
                stim,
                figure,
                overlay=draw_on,
                transparent=transparent,
                source=src,
                method=m,
            )
        else:
            if kind != "heatmap":
                raise ValidationError(f"--kind {kind} draws one session; {len(datas)} are selected")
            png, n = aggregate_heatmap_png(
                datas,
                stim=stim,
                overlay=draw_on,
                transparent=transparent,
                source=src,
                method=m,
                what=f"{len(datas)} sessions",
            )
            typer.echo(f"{n} of {len(datas)} sessions have gaze to draw")
    except GazescopeError as exc:
        fail(exc)
    write_file(out, png)


def report(
    ids: IdsArg = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for report.json, report.html and PNGs.", file_okay=False)
    ] = Path("report"),
    db: DbOpt = None,
    redis_url: RedisOpt = None,
    stimulus: StimulusOpt = None,
    user: UserOpt = None,
    folder: FolderOpt = None,
    image: ImageOpt = None,
    aois: AoisOpt = None,
    method: MethodOpt = "idt",
) -> None:
    """Write report.json and a self-contained report.html (plus heatmap/scanpath/trail PNGs) for one
    session, or the aggregate report (% viewers per AOI, dwell, TTFF) and heatmap of several."""
    from gazescope.analytics.report_html import render_report_html
    from gazescope.services.figures import aggregate_heatmap_png
    from gazescope.services.reports import aggregate_report, session_report_and_images

    try:
        m = fixation_method(method)
        datas, stim = gather(ids, db, redis_url, stimulus, user, folder, image, aois)
        if len(datas) == 1:
            rep, images = session_report_and_images(datas[0], stim, m, rebuild=True)
        else:
            rep = aggregate_report(stim, datas, m)
            images = {}
            if any(d.has_gaze() for d in datas):
                images["heatmap"], _ = aggregate_heatmap_png(
                    datas, stim=stim, overlay=stim is not None, method=m, what="the sessions"
                )
        page = render_report_html(rep, images)
    except GazescopeError as exc:
        fail(exc)
    write_file(out / "report.json", json.dumps(rep, indent=2))
    write_file(out / "report.html", page)
    for name, png in images.items():
        if name != "timeline":
            write_file(out / f"{name}.png", png)
    if rep.get("kind") == "aggregate":
        for a in rep.get("aois") or []:
            typer.echo(
                f"AOI {a['name']}: {a['viewers_pct']:.0f}% of viewers ({a['n_viewers']}/{a['n_sessions']})"
            )
        left_out = rep.get("sessions_without_gaze") or {}
        if left_out.get("count") and rep.get("aois"):
            typer.echo(f"{left_out['count']} session(s) left out of the AOI figures: {left_out['reason']}")
