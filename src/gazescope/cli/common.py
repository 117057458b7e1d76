"""What every ``gazescope`` command shares: failing with a reason (exit code 2) and writing outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import typer


def fail(exc: Exception | str) -> NoReturn:
    """Print ``error: <exc>`` in red on stderr and exit with code 2."""
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def write_json(data: dict[str, Any], path: Path | None) -> None:
    """Write ``data`` as indented JSON to ``path`` (folders made; nothing when None) and say so."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, default=str))
        typer.echo(f"wrote {path}")


def write_file(path: Path, data: bytes | str) -> None:
    """Write bytes, or text as UTF-8, to ``path`` (folders made) and say so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    typer.echo(f"wrote {path}")
