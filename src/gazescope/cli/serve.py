"""``gazescope serve``: the tracking service (FastAPI on uvicorn) on one port, in one or more processes."""

from __future__ import annotations

import functools
import os
import sys
from typing import Annotated, Any

import typer

from gazescope.cli.common import fail
from gazescope.config import Settings

STARTUP_FAILURE = 3
"""Exit code when the server did not start (uvicorn's)."""


def load_settings(host: str | None, port: int | None, workers: int | None) -> Settings:
    """Settings from the environment (``GAZESCOPE_*``, ``.env``) with the command's options over them.
    Raises ``pydantic.ValidationError`` for a bad value (e.g. ``workers > 1`` without Redis)."""
    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if workers is not None:
        overrides["workers"] = workers
    return Settings(**overrides)


def run_server(settings: Settings) -> None:
    """Serve ``create_app(settings)`` with uvicorn on ``settings.host``:``settings.port``, with the header
    timeout and connection cap of :mod:`gazescope.api.http_guard`; ``X-Forwarded-*`` headers are read only
    from ``settings.forwarded_allow_ips`` (or uvicorn's ``FORWARDED_ALLOW_IPS``), else from no one. The
    settings go
    to the app factory as they are (pickled into each worker process when ``settings.workers > 1``), so
    the app sees the bound host without reading the environment again. Exits with
    :data:`STARTUP_FAILURE` when a single server could not start."""
    import uvicorn

    from gazescope.api.app import create_app
    from gazescope.api.http_guard import GuardedConfig, GuardedH11Protocol, max_open_connections

    forwarded = settings.forwarded_allow_ips or os.environ.get("FORWARDED_ALLOW_IPS") or None
    config = GuardedConfig(
        functools.partial(create_app, settings),
        http=GuardedH11Protocol,
        header_timeout_s=settings.http_header_timeout_s,
        max_open_connections=max_open_connections(settings),
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        ws_max_size=settings.max_message_bytes,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_timeout_s,
        ws_per_message_deflate=settings.ws_per_message_deflate,
        access_log=False,
        proxy_headers=forwarded is not None,
        forwarded_allow_ips=forwarded or "",
        workers=settings.workers if settings.workers > 1 else None,
    )
    server = uvicorn.Server(config)
    try:
        if config.workers > 1:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            server.run()
    except KeyboardInterrupt:
        pass
    if config.workers == 1 and not server.started:
        sys.exit(STARTUP_FAILURE)


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
    try:
        settings = load_settings(host, port, workers)
    except Exception as exc:  # pydantic.ValidationError: a bad GAZESCOPE_* value or option
        fail(exc)
    typer.echo(
        f"gazescope serving on http://{settings.host}:{settings.port}/ (store: {settings.store_kind}, "
        f"{settings.workers} process{'es' if settings.workers > 1 else ''})"
    )
    run_server(settings)
