"""Seed 003 (a static page opened from disk: MediaPipe iris in the browser posts gaze points).

``POST /upload`` with ``Content-Type: application/json`` and ``{"points": [{"x": px, "y": px, "weight": 1},
...]}`` (screen pixels; no timestamps, no session), sent about once a second:

* 200 ``image/png``: the heatmap of that batch on a ``Settings.seed003_canvas_w_px`` x
  ``seed003_canvas_h_px`` canvas (1920x1080, the seed's), transparent where nobody looked; points outside
  the canvas are left out of the picture. ``weight`` (default 1, >= 0) weights a point.
* 400 ``{"error": "No gaze data provided"}`` for an empty or missing ``points`` list; other bad input
  (not JSON, a point without numeric ``x``/``y``, more than ``Settings.seed003_max_points`` points) is a 400
  ``{"error": <reason>}`` too. 401 ``{"error": ...}`` without the API token when one is set.
* CORS for any Origin, ``null`` (a ``file://`` page) included, on this route alone, preflight too
  (``OPTIONS /upload``), as the seed's Flask-CORS did; the app's CORS middleware leaves it alone
  (:data:`~gazescope.api.seeds.base.CORS_OWN_PATHS`).
* The points are kept as client gaze samples (``source: "client_gaze"``) in a session of that client
  (label ``seed003 /upload``, screen = the canvas), created by its first upload and continued while its
  uploads come less than ``Settings.seed003_session_gap_s`` apart; a later upload ends it (report) and
  starts the next; a session idle that long is also ended by a periodic sweep (:func:`sweep_idle_sessions`,
  run by the app), since a closed page sends no next upload. A client is its address (behind a proxy, every user shares one). Each batch's points
  are spread evenly over the time since the client's previous upload (at most 1 s), as the page samples
  at a steady rate. The response names the session in ``X-Gazescope-Session``. So the review dashboard,
  aggregate heatmaps, reports and exports show these sessions like any other.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from gazescope.analytics.events import client_gaze_samples
from gazescope.analytics.heatmap import HeatmapGrid, density_grid, heatmap_sigma_px
from gazescope.analytics.plots.heatmap import render_heatmap_overlay_png
from gazescope.api import logs
from gazescope.api.security import bearer_token, token_ok
from gazescope.api.seeds.base import State, number, routers
from gazescope.api.state import AppState
from gazescope.config import Settings
from gazescope.domain import SessionInfo
from gazescope.errors import (
    GazescopeError,
    NotFoundError,
    QuotaExceededError,
    SessionNotFoundError,
    StorageError,
)
from gazescope.services import lifecycle

router, _ = routers("seed 003")

NO_DATA = "No gaze data provided"
#: Store collection of each client's current session: ``{session_id, last_upload_ms}``.
COLLECTION = "seed003_clients"
LABEL = "seed003 /upload"
#: Largest |x| or |y| accepted (px): the bound of gazescope's own client gaze points.
MAX_ABS_PX = 100_000.0
#: Longest span one batch's points are spread over (the page posts every second).
MAX_BATCH_SPAN_MS = 1000.0
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "X-Gazescope-Session",
    "Vary": "Origin",
}


class UploadError(Exception):
    """A bad upload: answered ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _fail(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=CORS_HEADERS)


def read_points(body: bytes, max_points: int) -> list[tuple[float, float, float]]:
    """``(x, y, weight)`` of an upload body; :class:`UploadError` for anything the seed did not send."""
    try:
        msg = json.loads(body) if body else {}
    except (ValueError, RecursionError):
        raise UploadError(
            'the body must be JSON: {"points": [{"x": px, "y": px, "weight": 1}, ...]}'
        ) from None
    points = msg.get("points") if isinstance(msg, dict) else None
    if not points:
        raise UploadError(NO_DATA)
    if not isinstance(points, list):
        raise UploadError("'points' must be a list of {x, y, weight}")
    if len(points) > max_points:
        raise UploadError(f"at most {max_points} points per upload, got {len(points)}")
    out = []
    for i, p in enumerate(points):
        x, y = (number(p.get(k)) for k in ("x", "y")) if isinstance(p, dict) else (None, None)
        w = number(p.get("weight", 1)) if isinstance(p, dict) else None
        if x is None or y is None or w is None or w < 0 or max(abs(x), abs(y)) > MAX_ABS_PX:
            raise UploadError(
                f"point {i} needs numeric x and y (px, within +-{MAX_ABS_PX:g}) and a weight >= 0"
            )
        out.append((x, y, w))
    return out


def heatmap_png(points: list[tuple[float, float, float]], width: int, height: int) -> bytes:
    """The batch's heatmap as PNG (CPU work: run it in the pool)."""
    xs, ys, ws = zip(*points, strict=True)
    sigma = heatmap_sigma_px()
    density = density_grid(xs, ys, ws, width_px=width, height_px=height, sigma_px=sigma)
    inside = sum(1 for x, y, _ in points if 0 <= x < width and 0 <= y < height)
    grid = HeatmapGrid(density, float(width), float(height), max(1.0, round(sigma / 4.0)), sigma, inside, 1)
    return render_heatmap_overlay_png(grid)


def _client_doc_id(request: Request) -> str:
    host = request.client.host if request.client else "unknown"
    return hashlib.sha256(host.encode()).hexdigest()[:32]


async def _client_session(state: AppState, doc_id: str, now_ms: float) -> tuple[SessionInfo, float | None]:
    """The client's running session and the ``t_ms`` of its last stored point, or a new session (None).
    A session whose client paused ``seed003_session_gap_s`` or more is ended (its report built)."""
    s = state.settings
    try:
        doc = await state.io(state.store.get_document, COLLECTION, doc_id)
    except NotFoundError:
        doc = None
    if doc is not None:
        try:
            info = await lifecycle.get_session(state, str(doc["session_id"]))
        except SessionNotFoundError:  # deleted meanwhile
            info = None
        last_upload, last_t = number(doc.get("last_upload_ms")), number(doc.get("last_t_ms"))
        if info is not None and info.status != "ended" and last_upload is not None and last_t is not None:
            if now_ms - last_upload < s.seed003_session_gap_s * 1000.0:
                return info, last_t
            await lifecycle.end_session(state, info.id)  # the visit is over: build its report
    info = await lifecycle.create_session(
        state, label=LABEL, screen_w_px=s.seed003_canvas_w_px, screen_h_px=s.seed003_canvas_h_px
    )
    return info, None


def batch_times_ms(n: int, elapsed_ms: float, last_t_ms: float | None) -> list[float]:
    """Session times (ms) of a batch of ``n`` points that arrived ``elapsed_ms`` after the session was
    created: evenly spread over the last :data:`MAX_BATCH_SPAN_MS` before arrival (the first batch: over
    the session's first second), after ``last_t_ms`` (the previous batch's last point), increasing."""
    if last_t_ms is None:
        end = max(elapsed_ms, MAX_BATCH_SPAN_MS)
        start = end - MAX_BATCH_SPAN_MS
    else:
        end = max(elapsed_ms, last_t_ms + 1.0)
        start = max(last_t_ms, end - MAX_BATCH_SPAN_MS)
    step = (end - start) / n
    return [round(start + (i + 1) * step, 3) for i in range(n)]


async def store_points(state: AppState, doc_id: str, points: list[tuple[float, float, float]]) -> str:
    """Append the batch to the client's session (see module docstring); returns the session id."""
    client_key = f"seed003-{doc_id}"
    client_lock = state.session_lock(client_key)
    try:
        async with client_lock:
            now_ms = time.time() * 1000.0
            info, last_t = await _client_session(state, doc_id, now_ms)
            lock = state.session_lock(info.id)  # against a concurrent end or delete of the session
            try:
                async with lock:
                    times = batch_times_ms(len(points), time.time() * 1000.0 - info.created_at_ms, last_t)
                    # after samples held since an outage: the points must not reuse their frame indices
                    cont = await state.backlog.continuation(info.id)
                    samples = client_gaze_samples(
                        [
                            {"t_ms": t, "x_px": x, "y_px": y}
                            for t, (x, y, _) in zip(times, points, strict=True)
                        ],
                        screen_w_px=info.screen_w_px or state.settings.seed003_canvas_w_px,
                        screen_h_px=info.screen_h_px or state.settings.seed003_canvas_h_px,
                        first_index=cont.next_frame_index,
                    )
                    await state.io(state.store.append_samples, info.id, samples)
            finally:
                state.release_session_lock(info.id)
            doc = {
                "session_id": info.id,
                "client_id": doc_id,
                "last_upload_ms": now_ms,
                "last_t_ms": times[-1],
            }
            await state.io(state.store.put_document, COLLECTION, doc_id, doc)
            return info.id
    finally:
        state.release_session_lock(client_key)


def sweep_interval_s(settings: Settings) -> float:
    """Seconds between two sweeps of :func:`end_idle_sessions`: half the session gap, at most a minute, so
    an idle session is ended at most 1.5 gaps (or gap + 60 s) after its client's last upload."""
    return min(settings.seed003_session_gap_s / 2.0, 60.0)


async def end_idle_sessions(state: AppState) -> list[str]:
    """End (report built) every seed 003 session whose client has not uploaded for
    ``Settings.seed003_session_gap_s``: the page was closed, and no next upload would end it. Returns the
    ids of the sessions ended. Raises the store's errors (``StorageError``)."""
    gap_ms = state.settings.seed003_session_gap_s * 1000.0
    ended: list[str] = []
    for doc in await state.io(state.store.list_documents, COLLECTION):
        doc_id, last_upload = doc.get("client_id"), number(doc.get("last_upload_ms"))
        if not isinstance(doc_id, str) or last_upload is None or time.time() * 1000.0 - last_upload < gap_ms:
            continue
        client_key = f"seed003-{doc_id}"
        client_lock = state.session_lock(client_key)
        try:
            async with client_lock:  # not while an upload of this client picks or continues its session
                try:
                    doc = await state.io(state.store.get_document, COLLECTION, doc_id)
                except NotFoundError:
                    continue
                last_upload = number(doc.get("last_upload_ms"))
                if last_upload is None or time.time() * 1000.0 - last_upload < gap_ms:
                    continue  # an upload came meanwhile
                try:
                    info = await lifecycle.get_session(state, str(doc["session_id"]))
                except SessionNotFoundError:
                    continue
                if info.status != "ended":
                    await lifecycle.end_session(state, info.id)
                    ended.append(info.id)
        finally:
            state.release_session_lock(client_key)
    return ended


async def sweep_idle_sessions(state: AppState) -> None:
    """Run :func:`end_idle_sessions` every :func:`sweep_interval_s` until cancelled (the app lifespan);
    a store failure is logged and retried at the next sweep."""
    while True:
        await asyncio.sleep(sweep_interval_s(state.settings))
        try:
            for session_id in await end_idle_sessions(state):
                logs.event("seed003_session_idle_ended", session_id=session_id)
        except GazescopeError as exc:
            logs.event("seed003_sweep_failed", level=logging.WARNING, error=exc.message)


@router.options("/upload", include_in_schema=False)
async def upload_preflight(request: Request) -> Response:
    """CORS preflight of ``/upload``: any Origin (``null`` included), POST, the requested headers."""
    requested = request.headers.get("access-control-request-headers", "Content-Type")
    headers = {
        **CORS_HEADERS,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": requested[:1000],
        "Access-Control-Max-Age": "600",
    }
    return Response(status_code=204, headers=headers)


@router.post(
    "/upload",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 400: {"description": '{"error": "..."}'}},
)
async def upload(request: Request, state: State) -> Response:
    """Seed 003's upload: gaze points in, the batch's heatmap PNG out; the points are stored (see module
    docstring)."""
    s = state.settings
    given = bearer_token(request.headers.get("authorization")) or request.query_params.get("token")
    if not token_ok(given, s):
        return _fail("missing or invalid API token: send 'Authorization: Bearer <token>'", 401)
    try:
        points = read_points(await request.body(), s.seed003_max_points)
    except UploadError as exc:
        return _fail(exc.message, exc.status)
    try:
        png = await state.cpu(heatmap_png, points, s.seed003_canvas_w_px, s.seed003_canvas_h_px)
        session_id = await store_points(state, _client_doc_id(request), points)
    except GazescopeError as exc:
        quota = isinstance(exc, QuotaExceededError)
        return _fail(exc.message, 503 if isinstance(exc, StorageError) else 507 if quota else 400)
    return Response(png, media_type="image/png", headers={**CORS_HEADERS, "X-Gazescope-Session": session_id})
