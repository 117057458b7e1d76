"""Seed 004 (the phone app with a personal CNN): ``/ws/test_dispatcher/`` and ``/ws/dispatcher/``.

The protocol as the seed's Android client and Django Channels server speak it (docs/seeds.md, seed 004):

* ``/ws/test_dispatcher/`` (the public app): binary or text messages whose first character says what
  follows. ``C`` + ``{"userId", "images": <base64 JPEG>, "age", "gender", "coordinates": [x, y]}`` is a
  calibration frame while a dot is shown at (x, y) screen px; ``P`` + ``{"userId", "images", "age",
  "gender"}`` a frame to predict while a video plays; no reply to either. ``RequestVideoURL:<n>`` is
  answered with the text ``VideoURLs:<url1>,<url2>,...`` (at most n video stimuli, oldest first).
* ``/ws/dispatcher/`` (the seed's simulation client, text): ``C`` + ``{"images", "coordinates"}``, ``P`` +
  ``{"images", "relativeTime": <ms into the video>, "videoIndex", "videos": [url, ...]}``,
  ``RequestVideoURL:<n>`` answered with JSON ``{"video_urls": [...]}``, ``END`` ends prediction (once
  the frames received before it are processed, the fit included, the connection is closed and the
  session ended).

Both routes accept the path with and without the trailing slash. What gazescope does:

* One session per connection (label ``seed004 <path>``), ``user_id`` from ``userId`` (or ``?user_id=``),
  screen size ``Settings.seed004_screen_w_px`` x ``seed004_screen_h_px`` (the app sends none), ended with
  its report when the connection closes. Every frame goes through the normal tracking pipeline and is
  stored (latest-wins: frames arriving faster than they are processed are dropped and counted).
* Calibration frames are grouped by their coordinates into targets of a
  :class:`~gazescope.calibration.session.CalibrationSession` (blinks and each target's first
  ``Settings.calibration_settle_ms`` skipped); until the fit every frame is kept (bounded by
  ``Settings.seed004_hold_frames`` and ``seed004_hold_bytes``) instead of latest-wins, since every calibration frame counts. The
  first ``P`` or ``RequestVideoURL`` (or ``Settings.seed004_max_calibration_frames`` calibration frames)
  starts the fit ("mini training"), once every frame received before it was processed, with
  ``Settings.seed004_mapper`` (``cnn`` when PyTorch is importable, else ``ridge``) through the app's fit
  path (:meth:`~gazescope.api.state.AppState.fit_calibration`: fit pool, ``calibration_fit_timeout_s``,
  cancel flag; error on the training dots unless ``seed004_leave_one_out``); frames
  arriving meanwhile are held (:meth:`~gazescope.engine.connection.TrackingConnection.hold_frames`, at most
  ``Settings.seed004_hold_frames`` and ``seed004_hold_bytes``) and mapped once it is done. The fit is saved as the user's profile and
  applied; a later connection of the same user that sends no calibration frame gets that profile. A fit
  still running when the connection closes is stopped (nobody will use it).
* Prediction samples carry ``stimulus_id`` and ``video_t_s``: on ``/ws/test_dispatcher/`` the videos are
  taken to play back to back from the moment their URLs were sent
  (:class:`~gazescope.tracking.video_clock.Playlist`); on ``/ws/dispatcher/`` from ``videos[videoIndex]``
  and ``relativeTime``. Calibration samples carry ``calibration_target_px``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import re
import threading
import time
import uuid
from dataclasses import replace
from typing import Any, ClassVar, Literal

from fastapi import APIRouter, WebSocket

from gazescope.api import logs
from gazescope.api.deps import app_state, profile_repository
from gazescope.api.limits import GuardedRoute
from gazescope.api.seeds.base import loads_object, number
from gazescope.api.ws.calibration import use_profile
from gazescope.api.ws.tracking import run_tracking
from gazescope.api.ws.video_time import session_clock_ms
from gazescope.calibration.session import CalibrationSession
from gazescope.calibration.targets import TargetLayout
from gazescope.domain import FrameFeatures, GazeSample
from gazescope.engine.connection import TrackingConnection
from gazescope.engine.handlers import HandlerRegistry
from gazescope.engine.transport import CloseCode
from gazescope.engine.wire import Inbound, ProtocolError, WireFormat
from gazescope.errors import (
    FitStoppedError,
    GazescopeError,
    NotEnoughDataError,
    ProfileNotFoundError,
    ValidationError,
)
from gazescope.services.profile_pooling import pool_with_history
from gazescope.services.videos import list_videos, record_video_view
from gazescope.tracking.video_clock import Playlist, VideoMoment

Route = Literal["test_dispatcher", "dispatcher"]
#: Most video URLs one ``RequestVideoURL`` answers.
MAX_VIDEO_URLS = 100
VIDEO_URL_RE = re.compile(r"/api/stimuli/([A-Za-z0-9_.\-]{1,128})/video")
#: Layout of a seed 004 calibration: no fixed targets, every dot the app shows is a custom target.
DOTS_LAYOUT = TargetLayout(name="seed004", points_norm=(), validation_norm=())

router = APIRouter(route_class=GuardedRoute, tags=["seed-compatible"])


class Seed004Wire(WireFormat):
    """Reads seed 004's messages (module docstring); frames get no reply."""

    name = "seed004"
    announces = False
    KINDS: ClassVar[dict[str, str]] = {"C": "calibration", "P": "prediction"}

    def __init__(self, route: Route, *, base_url: str | None = None, token: str | None = None) -> None:
        self.route = route
        #: ``scheme://host`` the client connected to (video URLs start with it); None: the configured one.
        self.base_url = base_url
        #: The client's ``?token=``, passed on in video URLs.
        self.token = token

    def parse_bytes(self, data: bytes) -> Inbound:
        try:
            return self.parse_text(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise ProtocolError("bad_message", "a binary message must be C or P followed by JSON") from None

    def parse_text(self, text: str) -> Inbound:
        """Read one message (module docstring).

        Raises:
            ProtocolError: ``bad_message`` for anything unreadable, numbers that do not fit included (a
                5000-digit count, a 400-digit coordinate): the connection goes on.
        """
        try:
            return self._parse_text(text)
        except (ValueError, OverflowError):  # a number Python cannot hold or convert
            raise ProtocolError("bad_message", "a number in the message is out of range") from None

    def _parse_text(self, text: str) -> Inbound:
        if text.startswith("RequestVideoURL:"):
            n = text.split(":", 1)[1].strip()
            if not (n.isascii() and n.isdigit() and len(n) <= 6):  # "²".isdigit() is True
                raise ProtocolError("bad_message", "RequestVideoURL:<n> needs a whole number n (0..999999)")
            return Inbound("seed004_video_urls", body={"n": min(int(n), MAX_VIDEO_URLS)})
        if text.strip() == "END":
            return Inbound("seed004_end")
        kind = self.KINDS.get(text[:1])
        if kind is None:
            raise ProtocolError("bad_message", "messages start with C, P, RequestVideoURL:<n> or END")
        msg = loads_object(text[1:])
        images = msg.get("images")
        if isinstance(images, list) and images:
            images = images[0]  # one frame per message: the first of a list
        if not isinstance(images, str) or not images:
            raise ProtocolError("bad_message", "'images' must be a base64 JPEG")
        body: dict[str, Any] = {"seed004": kind}
        user = msg.get("userId")
        if isinstance(user, str | int) and not isinstance(user, bool) and 0 < len(str(user)) <= 256:
            body["user_id"] = str(user)
        if kind == "calibration":
            xy = msg.get("coordinates")
            pair = [number(v) for v in xy] if isinstance(xy, list | tuple) and len(xy) == 2 else [None]
            if None in pair:
                raise ProtocolError("bad_message", "'coordinates' must be [x, y] screen pixels")
            body["target_px"] = (pair[0], pair[1])
        else:
            rel, idx, videos = number(msg.get("relativeTime")), msg.get("videoIndex"), msg.get("videos")
            if rel is not None and rel >= 0:
                body["relative_s"] = rel / 1000.0
            if isinstance(idx, int) and isinstance(videos, list) and 0 <= idx < len(videos):
                match = VIDEO_URL_RE.search(str(videos[idx]))
                if match:
                    body["video_id"] = match.group(1)
        return Inbound("frame", payload=images, body=body)

    def sample(
        self,
        sample: dict[str, Any],
        inbound: Inbound,
        epoch_ms: float,
        features: FrameFeatures | None = None,
    ) -> dict[str, Any] | None:
        return None


def default_mapper(settings: Any) -> str:
    """``Settings.seed004_mapper``, else ``cnn`` when PyTorch is importable, else ``ridge``."""
    if settings.seed004_mapper:
        return str(settings.seed004_mapper)
    return "cnn" if importlib.util.find_spec("torch") is not None else "ridge"


class Seed004Connection:
    """Seed 004 state of one connection: calibration frames, the fit, video time (module docstring)."""

    def __init__(self, conn: TrackingConnection, wire: Seed004Wire) -> None:
        self.conn = conn
        self.settings = conn.settings
        self.route = wire.route
        self.lock = threading.Lock()
        self.user_id: str | None = conn.session.user_id
        self.calibration: CalibrationSession | None = None
        self.calibration_frames = 0
        self.phase: Literal["collecting", "fitting", "predicting"] = "collecting"
        self.task: asyncio.Task[None] | None = None
        self.playlist: Playlist | None = None
        self.durations: dict[str, float] = {}
        self.seen_videos: set[str] = set()
        self.skipped = 0
        #: Set to stop the fit (the client left and nobody will use it, or the session was deleted).
        self.cancel = threading.Event()
        conn.add_receive_hook(self.on_receive)
        conn.add_frame_hook(self.on_frame, needs_image=lambda: self.phase == "collecting")  # CNN eye patches
        conn.add_close_callback(self.on_close)
        conn.add_release_waiter(self.wait_fit)

    # -- event loop ------------------------------------------------------------------------------------
    def on_receive(self, inbound: Inbound) -> None:
        b = inbound.body
        user = b.get("user_id")
        if user and self.user_id is None:
            self.user_id = user
            self._spawn(self._record_user(user))
        if b.get("seed004") == "calibration":
            if self.phase == "collecting":
                self.calibration_frames += 1
                if self.calibration_frames >= self.settings.seed004_max_calibration_frames:
                    self.start_fit("calibration frame bound")
        else:
            self.start_fit("prediction frame")
            moment = self._moment(b)
            if moment is not None:
                b["video"] = moment

    def _moment(self, b: dict[str, Any]) -> VideoMoment | None:
        if self.route == "test_dispatcher":
            return self.playlist.at(session_clock_ms(self.conn)) if self.playlist is not None else None
        vid, rel = b.get("video_id"), b.get("relative_s")
        if vid is None or rel is None or vid not in self.durations:
            return None
        if vid not in self.seen_videos:
            self.seen_videos.add(vid)
            self._spawn(
                self.conn.state.io(record_video_view, self.conn.state.store, self.conn.session_id, vid)
            )
        return VideoMoment(vid, min(rel, self.durations[vid]))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(_log_failure)

    async def _record_user(self, user: str) -> None:
        self.conn.session = await self.conn.state.io(
            self.conn.state.store.update_session, self.conn.session_id, user_id=user
        )

    def start_fit(self, why: str) -> None:
        """Fit the collected calibration, or apply the user's saved profile when there is none; frames are
        held meanwhile. Runs once per connection."""
        if self.phase != "collecting":
            return
        self.phase = "fitting"
        boundary = self.conn.next_frame_index
        self.conn.hold_frames(
            self.settings.seed004_hold_frames, pause_from=boundary, max_bytes=self.settings.seed004_hold_bytes
        )
        self.task = asyncio.ensure_future(self._fit(why, boundary))

    async def _fit(self, why: str, boundary: int) -> None:
        conn, s = self.conn, self.settings
        try:
            t0 = time.perf_counter()
            await conn.drained(boundary)  # every calibration frame received so far is in
            drain_s = time.perf_counter() - t0
            with self.lock:
                cs = self.calibration
            fitted = None
            if cs is not None:
                t1 = time.perf_counter()
                try:
                    result = await conn.state.fit_calibration(
                        cs, cancel=self.cancel, wait_s=s.calibration_fit_timeout_s,
                        leave_one_out=s.seed004_leave_one_out,
                    )  # fmt: skip
                    fitted = replace(
                        result.calibration, profile_id=uuid.uuid4().hex[:12], user_id=self.user_id
                    )
                    fitted = (await pool_with_history(conn.state, fitted, cs.mapper_params))[0]
                    logs.event(
                        "seed004_fit", session_id=conn.session_id, why=why, mapper=fitted.mapper_name,
                        drain_s=round(drain_s, 2), seconds=round(time.perf_counter() - t1, 2),
                        mean_error_px=round(result.mean_error_px, 1), validation=result.validation_source,
                        train=getattr(fitted.mapper, "train_info", None), counts=result.counts,
                    )  # fmt: skip
                except NotEnoughDataError as exc:
                    logs.event("seed004_fit_failed", session_id=conn.session_id, error=exc.message)
                except FitStoppedError as exc:
                    logs.event(
                        "seed004_fit_stopped", session_id=conn.session_id, cancelled=self.cancel.is_set(),
                        limit_s=s.calibration_fit_timeout_s, error=exc.message,
                    )  # fmt: skip
            if fitted is not None:
                doc = await conn.state.io(
                    profile_repository(conn.state).save, fitted, source_session_id=conn.session_id
                )
                await use_profile(conn, doc, "seed004_fit")
                if conn.closing and not conn.deleted:  # the client left during the fit: still record it
                    conn.session = await conn.state.io(
                        conn.state.store.update_session, conn.session_id, calibration_id=fitted.profile_id
                    )
            elif self.user_id is not None:
                with contextlib.suppress(ProfileNotFoundError):
                    doc = await conn.state.io(
                        profile_repository(conn.state).latest, self.user_id,
                        s.seed004_screen_w_px, s.seed004_screen_h_px,
                    )  # fmt: skip
                    await use_profile(conn, doc, "seed004_saved_profile")
        except GazescopeError as exc:
            logs.event("seed004_calibration_failed", session_id=conn.session_id, error=exc.message)
        finally:
            with self.lock:
                self.calibration = None
                self.phase = "predicting"
            conn.release_frames()

    async def wait_fit(self) -> None:
        """Release waiter: the client left during the fit; let it finish (at most
        ``Settings.seed004_close_wait_s``) so the frames held meanwhile are mapped and stored."""
        if self.task is not None and not self.task.done():
            await asyncio.wait([self.task], timeout=self.settings.seed004_close_wait_s)

    async def on_close(self) -> None:
        """Close callback: a fit still running is one nobody will use (the frames it would map are
        dropped): stop it and return once its thread is done (:meth:`AppState.fit`)."""
        if self.task is not None and not self.task.done():
            self.cancel.set()
            self.task.cancel()
            await asyncio.wait([self.task])

    async def video_urls(self, n: int, base_url: str, token: str | None) -> list[str]:
        """URLs of at most ``n`` video stimuli (oldest first); the playlist starts now."""
        docs = (await self.conn.state.io(list_videos, self.conn.state.store))[:n]
        self.durations.update({d["id"]: float(d.get("duration_s") or 0.0) for d in docs})
        suffix = f"?token={token}" if token else ""
        urls = [f"{base_url}/api/stimuli/{d['id']}/video{suffix}" for d in docs]
        if docs and self.route == "test_dispatcher":
            self.playlist = Playlist(
                [(d["id"], self.durations[d["id"]]) for d in docs], session_clock_ms(self.conn)
            )
            for d in docs:
                await self.conn.state.io(
                    record_video_view, self.conn.state.store, self.conn.session_id, d["id"]
                )
        if docs and not self.conn.session.stimulus_id:
            self.conn.session = await self.conn.state.io(
                self.conn.state.store.update_session, self.conn.session_id, stimulus_id=docs[0]["id"]
            )
        return urls

    # -- worker thread ---------------------------------------------------------------------------------
    def on_frame(
        self, inbound: Inbound, ff: FrameFeatures, sample: GazeSample, rgb: Any
    ) -> dict[str, Any] | None:
        b = inbound.body
        if b.get("seed004") == "calibration":
            target = b["target_px"]
            with self.lock:
                if self.phase == "collecting":
                    self._calibration_frame(target, ff, sample, rgb)
            return {"calibration_target_px": list(target)}
        moment = b.get("video")
        return moment.to_fields() if moment is not None else None

    def _calibration_frame(
        self, target: tuple[float, float], ff: FrameFeatures, sample: GazeSample, rgb: Any
    ) -> None:
        s = self.settings
        if self.calibration is None:
            mapper = default_mapper(s)
            params = {"time_budget_s": s.seed004_cnn_time_budget_s} if mapper == "cnn" else {}
            self.calibration = CalibrationSession(
                DOTS_LAYOUT, s.seed004_screen_w_px, s.seed004_screen_h_px, mapper, s.calibration_settle_ms,
                mapper_params=params, user_id=self.user_id,
            )  # fmt: skip
        try:
            self.calibration.target_shown(target, sample.t_ms)
        except ValidationError:  # a dot off the configured screen: not a usable target
            self.skipped += 1
            return
        self.calibration.add(ff, sample.t_ms, is_blinking=bool(sample.is_blinking), image_rgb=rgb)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logs.event("seed004_task_failed", error=str(task.exception()))


def _state(conn: TrackingConnection) -> Seed004Connection:
    st = conn.extensions.get(Seed004Connection)
    if st is None:
        raise ValidationError("this message belongs to seed 004's /ws/test_dispatcher/ and /ws/dispatcher/")
    return st


async def _start(conn: TrackingConnection) -> None:
    """Start hook: seed 004 connections get their state."""
    if isinstance(conn.wire, Seed004Wire):
        st = Seed004Connection(conn, conn.wire)
        conn.extensions.set(Seed004Connection, st)
        docs = await conn.state.io(list_videos, conn.state.store)
        st.durations.update({d["id"]: float(d.get("duration_s") or 0.0) for d in docs})
        # calibration frames all count: keep them (bounded) instead of latest-wins until the fit
        conn.hold_frames(conn.settings.seed004_hold_frames, max_bytes=conn.settings.seed004_hold_bytes)


async def handle_video_urls(conn: TrackingConnection, inbound: Inbound) -> None:
    """``RequestVideoURL:<n>``: start the fit (once) and answer the video URLs."""
    st = _state(conn)
    st.start_fit("RequestVideoURL")
    wire = conn.wire
    assert isinstance(wire, Seed004Wire)  # _state: only seed 004 connections get here
    base_url = wire.base_url or f"http://{conn.settings.host}:{conn.settings.port}"
    urls = await st.video_urls(int(inbound.body["n"]), base_url, wire.token)
    if st.route == "test_dispatcher":
        await conn.send_text("VideoURLs:" + ",".join(urls))
    else:
        await conn.send({"video_urls": urls})


async def handle_end(conn: TrackingConnection, inbound: Inbound) -> None:
    """``END``: prediction is over; the connection closes and its session ends.

    The seed's client sends ``END`` right after its last ``P`` frame, usually while the fit runs: first
    every frame received before ``END`` is processed (the fit done, the frames held meanwhile mapped and
    stored), at most ``Settings.seed004_close_wait_s`` seconds; frames still waiting then are dropped and
    counted, and a fit still running is cancelled. Messages after ``END`` are not read meanwhile."""
    _state(conn)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(conn.drained(conn.next_frame_index), conn.settings.seed004_close_wait_s)
    asyncio.ensure_future(conn.stop(CloseCode.NORMAL, "END")).add_done_callback(_log_failure)


def register(registry: HandlerRegistry) -> None:
    """Seed 004's messages and connection state on the app's tracking connections."""
    registry.add_start_hook(_start)
    registry.register("seed004_video_urls", handle_video_urls)
    registry.register("seed004_end", handle_end)


async def _serve(ws: WebSocket, route: Route) -> None:
    s = app_state(ws).settings
    user = ws.query_params.get("user_id")
    implicit = {
        "label": f"seed004 /ws/{route}/",
        "user_id": user[:256] if user else None,
        "screen_w_px": s.seed004_screen_w_px,
        "screen_h_px": s.seed004_screen_h_px,
    }
    scheme = "https" if ws.url.scheme == "wss" else "http"
    host = ws.headers.get("host") or f"{s.host}:{s.port}"
    wire = Seed004Wire(route, base_url=f"{scheme}://{host}", token=ws.query_params.get("token"))
    await run_tracking(ws, None, wire, "seed004", implicit=implicit)


@router.websocket("/ws/test_dispatcher/")
@router.websocket("/ws/test_dispatcher")
async def test_dispatcher(ws: WebSocket) -> None:
    """Seed 004's Android app (see the module docstring)."""
    await _serve(ws, "test_dispatcher")


@router.websocket("/ws/dispatcher/")
@router.websocket("/ws/dispatcher")
async def dispatcher(ws: WebSocket) -> None:
    """Seed 004's simulation client (see the module docstring)."""
    await _serve(ws, "dispatcher")
