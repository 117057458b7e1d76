"""The ``gazescope`` command line: serve, analyze, evaluate, bench, and the analytics commands.

One module a command (group): :mod:`~gazescope.cli.serve`, :mod:`~gazescope.cli.analyze`,
:mod:`~gazescope.cli.evaluate`, :mod:`~gazescope.cli.bench`, :mod:`~gazescope.cli.analytics` (``heatmap``,
``report``), :mod:`~gazescope.cli.video` (``video-overlay``). Commands take :class:`~gazescope.config.Settings`
explicitly and call :mod:`gazescope.services` (never the API's routes); errors exit with code 2 and a reason.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gazescope.cli import analytics, video
from gazescope.cli.analyze import analyze
from gazescope.cli.bench import bench
from gazescope.cli.common import package_version
from gazescope.cli.evaluate import evaluate_app
from gazescope.cli.serve import serve
from gazescope.cli.vendor import vendor

app = typer.Typer(
    help="gazescope: webcam gaze and attention tracking (service, offline analysis, evaluation).",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gazescope {package_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    pass


app.add_typer(evaluate_app, name="evaluate")
app.command()(serve)
app.command()(analyze)
app.command()(bench)
app.command("heatmap")(analytics.heatmap)
app.command("report")(analytics.report)
app.command("video-overlay")(video.video_overlay)
app.command()(vendor)


def main() -> None:  # pragma: no cover - console entry
    """Run the command line; Ctrl-C exits with 130."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
