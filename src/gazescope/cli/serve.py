"""``gazescope serve``: the tracking service (FastAPI on uvicorn) on one port, in one or more processes."""

from __future__ import annotations

import errno
import functools
import os
import socket
import sys
from typing import Annotated, Any

import typer

from gazescope.cli.common import fail, settings_error
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


#: ``serve`` options and the settings they set (named in errors).
OPTIONS = {"host": "--host", "port": "--port", "workers": "--workers"}


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` as uvicorn binds it (``SO_REUSEADDR``, inheritable by worker
    processes), for uvicorn to listen on: a busy port is found before anything starts, and no other
    process can take the port between the check and the start. Raises ``OSError`` (``EADDRINUSE`` when
    the port is taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def bind_error(exc: OSError, host: str, port: int) -> str:
    """One line saying why ``host``:``port`` could not be bound."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another server is running there); stop it or "
            "choose another port with --port or GAZESCOPE_PORT"
        )
    if exc.errno == errno.EACCES:
        return f"no permission to bind port {port} on {host} (ports below 1024 need privileges); use --port"
    return f"cannot bind {host}:{port}: {exc.strerror or exc} (check --host / GAZESCOPE_HOST)"


def run_server(settings: Settings, sock: socket.socket | None = None) -> None:
    """Serve ``create_app(settings)`` with uvicorn on ``sock`` (default: a socket bound to
    ``settings.host``:``settings.port`` by :func:`bind_socket`), with the header timeout and connection cap
    of :mod:`gazescope.api.http_guard`; ``X-Forwarded-*`` headers are read only from
    ``settings.forwarded_allow_ips`` (or uvicorn's ``FORWARDED_ALLOW_IPS``), else from no one. The settings
    go to the app factory as they are (pickled into each worker process when ``settings.workers > 1``), so the app sees the bound
    host without reading the environment again. Exits with :data:`STARTUP_FAILURE` when a single server
    could not start."""
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
        timeout_worker_healthcheck=settings.worker_healthcheck_timeout_s,
    )
    server = uvicorn.Server(config)
    if sock is None:
        sock = bind_socket(settings.host, settings.port)
    try:
        if config.workers > 1:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(config, sockets=[sock]).run()
        else:
            server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
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
        fail(settings_error(exc, OPTIONS))
    try:
        sock = bind_socket(settings.host, settings.port)
    except OSError as exc:
        fail(bind_error(exc, settings.host, settings.port))
    typer.echo(
        f"gazescope serving on http://{settings.host}:{settings.port}/ (store: {settings.store_kind}, "
        f"{settings.workers} process{'es' if settings.workers > 1 else ''})"
    )
    run_server(settings, sock)
