"""The FastAPI application: :func:`create_app` (the factory ``gazescope serve`` runs on uvicorn).

The lifespan creates the store (SQLite at ``Settings.db_path`` by default, Redis when
``GAZESCOPE_REDIS_URL`` is set), the live hub, a ``ThreadPoolExecutor(Settings.worker_threads)`` for CPU
work and the Prometheus registry, and on shutdown closes the open tracking connections (flushing their
samples), the hub, the pool and the store. OpenAPI docs are at ``/docs``, with their assets
served from the installed ``fastapi-offline`` package (:func:`add_offline_docs`), never a CDN.

Routers: :mod:`~gazescope.api.routes.sessions` (REST ``/api/sessions``), :mod:`~gazescope.api.routes.tracking`
(WebSockets ``/ws/sessions/{id}/track`` and ``/live``), :mod:`~gazescope.api.seeds` (the seeds'
endpoints, one module per seed), :mod:`~gazescope.api.routes.ops` (``/healthz``, ``/readyz``, ``/metrics``). The web app is
served at ``/app/`` from ``src/gazescope/web`` when it exists. The tracking connections' message handlers
(calibration, clicks, video time, seed 004) are registered in the app's own registry
(:func:`tracking_handlers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from gazescope import __version__
from gazescope.api import logs, seeds
from gazescope.api.deps import bind_app_state
from gazescope.api.limits import GuardedRoute, RequestGuardMiddleware
from gazescope.api.metrics import Metrics
from gazescope.api.ratelimit import WriteLimitMiddleware
from gazescope.api.routes import (
    analytics,
    ops,
    participate,
    sdk,
    sessions,
    stimuli,
    studies,
    study_results,
    tracking,
    videos,
)
from gazescope.api.routes import calibration as calibration_routes
from gazescope.api.routes import clicks as click_routes
from gazescope.api.security import LOCAL_ORIGIN_RE
from gazescope.api.state import AppState
from gazescope.api.vendor_files import VendorStaticFiles
from gazescope.api.ws import calibration, clicks, video_time
from gazescope.config import Settings
from gazescope.engine.connection import TrackingConnection
from gazescope.engine.frame_processes import FrameProcessPool
from gazescope.engine.handlers import HandlerRegistry
from gazescope.engine.transport import CloseCode
from gazescope.errors import (
    AccessDeniedError,
    BusyError,
    ConfigurationError,
    GazescopeError,
    NotFoundError,
    ProfileNotFoundError,
    QuotaExceededError,
    SessionNotFoundError,
    StorageError,
    ValidationError,
)
from gazescope.services import abandoned, face_mesh_vendor
from gazescope.storage import create_live_hub, create_ownership, create_store
from gazescope.storage.redis import redact_url

WEB_DIR = Path(__file__).resolve().parents[1] / "web"

_STATUS: tuple[tuple[type[GazescopeError], int], ...] = (
    (SessionNotFoundError, 404),
    (ProfileNotFoundError, 404),
    (NotFoundError, 404),
    (QuotaExceededError, 507),
    (StorageError, 503),
    (BusyError, 503),
    (ValidationError, 422),
    (ConfigurationError, 500),
)


def _status_of(exc: GazescopeError) -> int:
    if isinstance(exc, AccessDeniedError):
        return exc.status
    for cls, code in _STATUS:
        if isinstance(exc, cls):
            return code
    return 400


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_safe(x) for x in v]
    return v


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with FastAPI's usual body, also when the rejected input is NaN or infinite (Python's JSON
    parser accepts ``NaN``; the default handler would fail to encode it and answer 500)."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": jsonable_encoder(_json_safe(list(exc.errors())))}, status_code=422)


async def _gazescope_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GazescopeError)
    code = _status_of(exc)
    if code >= 500:
        logs.event("request_failed", path=request.url.path, code=exc.code, error=exc.message)
    return JSONResponse({"detail": exc.message, "code": exc.code}, status_code=code)


def _preload_cnn() -> None:
    """Import and warm up PyTorch now, before serving (``Settings.calibration_preload_cnn``), on one
    thread; nothing when it is not installed."""
    from gazescope.api.state import limit_torch_threads
    from gazescope.calibration.mappers.cnn import _torch, warm_up

    try:
        _torch()
    except ConfigurationError:
        return
    limit_torch_threads()
    warm_up()


class _CORS(CORSMiddleware):
    """CORS for every path but those that answer it themselves (``seeds.CORS_OWN_PATHS``)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in seeds.CORS_OWN_PATHS:
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def tracking_handlers() -> HandlerRegistry[TrackingConnection[Any]]:
    """The message handlers and start hooks of one app's tracking connections (calibration first: its
    start hook applies a session's saved calibration before seed 004's runs)."""
    registry: HandlerRegistry[TrackingConnection[Any]] = HandlerRegistry()
    calibration.register(registry)
    clicks.register(registry)
    video_time.register(registry)
    seeds.seed004.register(registry)
    return registry


#: Swagger UI files of the installed ``fastapi-offline`` package (no CDN at run time).
DOCS_ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
DOCS_ASSETS_URL = "/docs-assets"


def add_offline_docs(app: FastAPI) -> None:
    """Serve the OpenAPI page ``/docs`` (Swagger UI) with its JavaScript, CSS and icon from
    :data:`DOCS_ASSETS_DIR` at :data:`DOCS_ASSETS_URL`, so it works without internet (FastAPI's own page
    loads them from a CDN); it names only same-origin URLs (behind a proxy, under its root path). ReDoc
    (``/redoc``) is off: even served locally it fetches its logo from a CDN."""
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=DOCS_ASSETS_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_url}",
            swagger_js_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            # no badge fetched from validator.swagger.io
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )

    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    for path, endpoint in (("/docs", swagger_ui), (oauth2_url, swagger_ui_redirect)):
        app.router.add_api_route(
            path, endpoint, methods=["GET"], include_in_schema=False, route_class_override=GuardedRoute
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service app for ``settings`` (default: ``Settings()`` from the environment).

    The store and the other service objects are created when the app starts (lifespan), not here, so
    building an app never touches the database.
    """
    settings = settings or Settings()
    logs.configure_logging(settings.log_level)
    handlers = tracking_handlers()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = create_store(settings)
        hub = create_live_hub(settings)
        executor = ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="gazescope-cpu")
        if settings.calibration_preload_cnn:
            _preload_cnn()
        ownership = create_ownership(settings)
        frame_pool = None
        if settings.frame_process_count > 0:
            frame_pool = FrameProcessPool(settings, settings.frame_process_count)
            await frame_pool.start()  # spawned and MediaPipe imported before the first stream
        state = AppState(
            settings=settings,
            store=store,
            hub=hub,
            executor=executor,
            metrics=Metrics(),
            ownership=ownership,
            handlers=handlers,
            frame_pool=frame_pool,
        )
        bind_app_state(app, state)
        await ownership.start(state.stop_local)
        where = (
            redact_url(settings.redis_url or "") if settings.store_kind == "redis" else str(settings.db_path)
        )
        logs.event(
            "service_start",
            version=__version__,
            store=settings.store_kind,
            location=where,
            worker_threads=settings.worker_threads,
            frame_processes=settings.frame_process_count,
            token_required=settings.api_token is not None,
        )
        sweepers = [
            asyncio.create_task(seeds.seed003.sweep_idle_sessions(state), name="gs-seed003-sweep"),
            asyncio.create_task(abandoned.sweep_abandoned_sessions(state), name="gs-abandoned-sweep"),
        ]
        try:
            yield
        finally:
            for sweeper in sweepers:
                sweeper.cancel()
            await asyncio.gather(*sweepers, return_exceptions=True)
            for conn in list(state.connections.values()):
                with contextlib.suppress(Exception):
                    await conn.stop(CloseCode.GOING_AWAY, "server shutting down")
            with contextlib.suppress(Exception):
                await state.backlog.close()  # one last try; logs what the store never took
            with contextlib.suppress(Exception):
                await ownership.close()
            with contextlib.suppress(Exception):
                await hub.close()
            executor.shutdown(wait=True, cancel_futures=True)
            if frame_pool is not None:
                frame_pool.shutdown()
            state.analytics.shutdown()
            if state.fit_executor is not None:  # fits were stopped with their connections above
                state.fit_executor.shutdown(wait=True, cancel_futures=True)
            with contextlib.suppress(Exception):
                store.close()
            logs.event("service_stop")

    app = FastAPI(
        title="gazescope",
        version=__version__,
        description="Webcam gaze and attention tracking: sessions, live tracking WebSockets, reports.",
        lifespan=lifespan,
        docs_url=None,  # served by add_offline_docs, from installed assets instead of a CDN
        redoc_url=None,
    )
    add_offline_docs(app)
    # body size limits, the cross-site check of state-changing requests, nosniff (inside CORS, so that
    # preflights are answered first; outside everything else)
    app.add_middleware(RequestGuardMiddleware, settings=settings)
    # per-client rate limit and free-disk refusal of writes, before any body is read (api/ratelimit.py)
    app.add_middleware(WriteLimitMiddleware, settings=settings)
    origins = ["*"] if "*" in settings.allowed_origins else list(settings.allowed_origins)
    app.add_middleware(
        _CORS,
        allow_origins=origins,
        allow_origin_regex=LOCAL_ORIGIN_RE,
        allow_methods=["*"],
        allow_headers=["*"],
        # seed 000's client fetches with credentials: "include"; allowed origins are echoed, never "*"
        allow_credentials=True,
    )
    hosts = settings.effective_trusted_hosts
    if hosts != ["*"]:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)
    app.add_exception_handler(GazescopeError, _gazescope_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(sessions.router)
    app.include_router(stimuli.router)
    app.include_router(analytics.router)
    app.include_router(videos.router)
    app.include_router(tracking.router)
    for seed_router in seeds.ROUTERS:
        app.include_router(seed_router)
    app.include_router(ops.router)
    app.include_router(calibration_routes.router)
    app.include_router(click_routes.router)
    app.include_router(sdk.router)
    # the browser's Face Mesh files (gazescope vendor; absent until fetched: 404s, /sdk/face-mesh says so)
    app.mount(
        sdk.FACE_MESH_URL.rstrip("/"),
        VendorStaticFiles(directory=face_mesh_vendor.vendor_dir(settings), check_dir=False),
        name="face-mesh",
    )
    app.include_router(studies.router)
    app.include_router(study_results.router)
    app.include_router(participate.router)
    if (WEB_DIR / "index.html").is_file():
        app.mount("/app", StaticFiles(directory=WEB_DIR, html=True), name="app")
    else:
        app.add_api_route("/app/", seeds.seed001.placeholder_app, methods=["GET"], include_in_schema=False)
    return app
