"""What every ``gazescope`` command shares: failing with a reason (exit code 2), one-line settings errors,
the package version, native log lines kept off the terminal, and writing outputs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import typer

#: Field names whose values are never echoed in an error (secrets, URLs with passwords).
_SECRET_HINTS = ("token", "url", "password", "secret")


def fail(exc: Exception | str) -> NoReturn:
    """Print ``error: <exc>`` in red on stderr and exit with code 2."""
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def package_version() -> str:
    """The installed distribution's version (package metadata), else ``gazescope.__version__`` (a source
    tree that is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gazescope")
    except PackageNotFoundError:
        from gazescope import __version__

        return __version__


def settings_error(exc: Exception, options: Mapping[str, str] | None = None) -> str:
    """One line for an error raised while loading ``Settings``: each ``pydantic.ValidationError`` entry as
    ``invalid <field> <value>: <reason> (<option> or GAZESCOPE_<FIELD>)``, joined with ``; `` (secret-like
    fields without their value); any other error as its text. ``options`` maps field names to the command's
    options that set them (``{"port": "--port"}``)."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return str(exc)
    parts: list[str] = []
    for err in exc.errors():
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        loc = err.get("loc") or ()
        if not loc:
            parts.append(msg)
            continue
        field = str(loc[0])
        value = err.get("input")
        shown = "" if any(h in field for h in _SECRET_HINTS) or isinstance(value, dict) else f" {value!r}"
        where = f"GAZESCOPE_{field.upper()}"
        if options and field in options:
            where = f"{options[field]} or {where}"
        parts.append(f"invalid {field}{shown}: {msg} ({where})")
    return "; ".join(parts)


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
