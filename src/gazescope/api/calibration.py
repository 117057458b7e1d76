"""Calibration over the tracking WebSocket, and calibration profiles in the service's store.

The protocol is the one of ``docs/protocol.md`` ("Calibration over the tracking WebSocket"); the science
(targets, features, mappers, the :class:`~gazescope.calibration.session.CalibrationSession` state machine,
:func:`~gazescope.calibration.session.check_drift`, :class:`~gazescope.calibration.profile.FittedCalibration`)
lives in :mod:`gazescope.calibration`. This module only drives it from a tracking connection:

* **Handlers** (registered with :func:`~gazescope.api.tracking.register_message_handler` when this module is
  imported): ``calibration_start``, ``calibration_target``, ``calibration_finish``, ``calibration_cancel``,
  ``calibration_use``, ``drift_start``, ``drift_finish``. They run on the event loop; fitting and validating
  run in the fit pool (``conn.state.fit``), loading profiles in the CPU pool (``conn.state.cpu``), store
  calls in ``conn.state.io``.
* **Frames to targets.** A frame observer (worker thread) hands each processed frame's features, blink state
  and (for appearance mappers only; used in memory, never kept) the RGB frame to the calibration session,
  under a lock. A ``calibration_target`` message takes effect from the first frame *received after it*
  (``frame_index >= conn.next_frame_index`` at the time of the message): frames already on their way were
  captured while the previous target was shown and still count for that one. The settle window
  (``settle_ms``) starts at that first frame's ``t_ms``.
* **Progress.** ``calibration_progress`` is sent when a grid/custom target becomes the shown one (with its
  index, useful for custom points), and after each usable sample until the target is ``done``.
* **Fits** (``calibration_finish``) run in the fit pool (``conn.state.fit``: its own threads, never the
  frames'), at most ``Settings.calibration_fit_threads`` at once (more: ``server_busy``), each bounded by
  ``Settings.calibration_fit_timeout_s`` (``calibration_timeout``); client ``mapper_params`` are checked
  and clamped by :func:`bound_mapper_params`. A fit stops within one training epoch when its connection
  ends: the training loop checks a cancel flag (``Mapper.should_stop``).
* **Profiles** are documents of the store's collection :data:`PROFILES` (so a Redis deployment shares them
  between servers): ``{"id", "profile_id", "user_id", "created_at_ms", "mapper", "layout", "screen_w_px",
  "screen_h_px", "accuracy", "grade", "source_session_id", "profile": FittedCalibration.to_dict()}``. JSON
  only, never pickle. A profile has no ``session_id`` key on purpose: deleting the session it was made in
  must not delete the person's calibration.
* **Results** (accuracy) of every calibration, applied profile and drift check made in a session are
  documents of :data:`RESULTS` linked to the session (``session_id``), so ``delete_session`` removes them and
  reports/heatmaps can size their kernels from the measured accuracy
  (:func:`gazescope.api.routes.analytics.calibration_accuracy_px` reads them). They are written only while
  the connection is open: a fit still running when it ends is cancelled.
* **Reuse.** When a tracking connection starts (:func:`~gazescope.api.tracking.register_start_hook`) for a
  session created with ``calibration_id`` (a profile id) or with a ``user_id`` that has a profile, that
  profile is applied and the session's ``calibration_id`` records which (seed 003: no recalibration every
  time).

Smooth pursuit (``layout: "pursuit"``): the target follows
:func:`~gazescope.calibration.targets.pursuit_path` (Pfeuffer et al., UIST 2013); every
:data:`PURSUIT_VALIDATION_EVERY`-th path point is a validation point (held out of the fit, interleaved
along the path so validation measures interpolation). The client sends ``calibration_target`` with the
path ``index`` (or ``x_px``/``y_px``) of the point it shows at each frame; each point needs one sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from gazescope.api import logs
from gazescope.api.limits import check_number
from gazescope.api.profile_history import pool_with_history
from gazescope.api.state import limit_torch_threads
from gazescope.calibration.mappers import available_mappers
from gazescope.calibration.profile import FittedCalibration
from gazescope.calibration.session import CalibrationResult, CalibrationSession, check_drift
from gazescope.calibration.targets import LAYOUT_NAMES, TargetLayout, grid_layout, pursuit_path
from gazescope.domain import FrameFeatures, GazeSample
from gazescope.engine.connection import TrackingConnection
from gazescope.engine.handlers import HandlerRegistry
from gazescope.engine.wire import Inbound
from gazescope.errors import (
    CalibrationError,
    FitStoppedError,
    GazescopeError,
    NotEnoughDataError,
    NotFoundError,
    ProfileNotFoundError,
    StorageError,
    ValidationError,
)
from gazescope.storage import Store
from gazescope.storage.base import SESSION_ID_RE

#: Store collection of calibration profiles (not linked to any session).
PROFILES = "calibration_profiles"
#: Store collection of calibration results, applied profiles and drift checks, linked to their session.
RESULTS = "calibration_results"
#: Layout names accepted by ``calibration_start``.
ALL_LAYOUTS: tuple[str, ...] = (*LAYOUT_NAMES, "pursuit")
#: Every n-th point of a smooth-pursuit path is a validation point.
PURSUIT_VALIDATION_EVERY = 5
#: Default smooth-pursuit duration and point rate (those of :func:`pursuit_path`).
PURSUIT_DURATION_MS = 20_000.0
PURSUIT_RATE_HZ = 30.0
#: Most samples kept for one drift check (the newest win). For appearance mappers the frames themselves
#: are needed by :func:`check_drift`; they stay in memory only, are bounded by the smaller limit, and are
#: dropped when the check ends.
DRIFT_MAX_SAMPLES = 90
DRIFT_MAX_FRAMES = 30
#: Most ``calibration_target`` announcements waiting for their first frame (a pursuit client sends one per
#: frame, so a few dozen wait at most while frames are on their way); more are refused with
#: ``invalid_request``, so a client that announces targets without sending frames cannot grow it unbounded.
MAX_PENDING_TARGETS = 256
#: Ids of profiles and calibrations: 1-128 characters of letters, digits, ``_ . -`` (the store's id rule).
ID_RE = SESSION_ID_RE


# --- profiles in the store -------------------------------------------------------------------------------


def check_profile_id(profile_id: object) -> str:
    """``profile_id`` when it is 1-128 characters of ``[A-Za-z0-9_.-]``; ``ValidationError`` otherwise."""
    if not isinstance(profile_id, str) or not ID_RE.match(profile_id):
        raise ValidationError(
            f"invalid profile id {str(profile_id)[:64]!r}: use 1-128 characters of letters, digits, '_', '.', '-'"
        )
    return profile_id


def profile_document(cal: FittedCalibration, *, source_session_id: str | None = None) -> dict[str, Any]:
    """The store document of a profile (see the module docstring)."""
    acc = dict(cal.accuracy)
    return {
        "id": cal.profile_id,
        "profile_id": cal.profile_id,
        "user_id": cal.user_id,
        "created_at_ms": round(float(cal.created_at_ms), 3),
        "mapper": cal.mapper_name,
        "layout": cal.layout,
        "screen_w_px": int(cal.screen_w_px),
        "screen_h_px": int(cal.screen_h_px),
        "accuracy": acc,
        "grade": acc.get("grade"),
        "source_session_id": source_session_id,
        "profile": cal.to_dict(),
    }


def profile_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """A profile document without the fitted mapper (for listings)."""
    return {k: v for k, v in doc.items() if k != "profile"}


def save_profile(store: Store, cal: FittedCalibration, *, source_session_id: str | None = None) -> dict:
    """Store ``cal`` as a profile document (replacing one with the same id); returns the document.

    Raises:
        ValidationError: a bad profile id. StorageError: the store failed.
    """
    check_profile_id(cal.profile_id)
    doc = profile_document(cal, source_session_id=source_session_id)
    store.put_document(PROFILES, cal.profile_id, doc)
    return doc


def get_profile_document(store: Store, profile_id: str) -> dict[str, Any]:
    """The stored profile document. Raises ProfileNotFoundError (code ``profile_not_found``)."""
    if not isinstance(profile_id, str) or not ID_RE.match(profile_id):
        raise ProfileNotFoundError(f"no calibration profile {str(profile_id)[:64]!r}")
    try:
        return store.get_document(PROFILES, profile_id)
    except NotFoundError:
        raise ProfileNotFoundError(f"no calibration profile {profile_id!r}") from None


def list_profiles(store: Store, user_id: str | None = None) -> list[dict[str, Any]]:
    """Profile documents (of one user when given), newest first."""
    docs = store.list_documents(PROFILES, user_id=user_id) if user_id else store.list_documents(PROFILES)
    return sorted(docs, key=lambda d: (float(d.get("created_at_ms") or 0.0), str(d.get("id"))), reverse=True)


def latest_profile_document(
    store: Store, user_id: str, screen_w_px: int | None = None, screen_h_px: int | None = None
) -> dict[str, Any]:
    """The newest profile of ``user_id``; when a screen size is given, the newest made on that screen size
    if there is one (a mapping is in the pixels of the screen it was made on).

    Raises:
        ProfileNotFoundError: the user has no profile.
    """
    docs = list_profiles(store, user_id)
    if not docs:
        raise ProfileNotFoundError(f"no calibration profile for user {user_id!r}")
    if screen_w_px and screen_h_px:
        same = [
            d for d in docs if d.get("screen_w_px") == screen_w_px and d.get("screen_h_px") == screen_h_px
        ]
        if same:
            return same[0]
    return docs[0]


def delete_profile(store: Store, profile_id: str) -> None:
    """Delete a stored profile. Raises ProfileNotFoundError when there is none."""
    get_profile_document(store, profile_id)
    store.delete_document(PROFILES, profile_id)


def calibration_from_document(doc: dict[str, Any]) -> FittedCalibration:
    """The :class:`FittedCalibration` of a profile document. Raises CalibrationError for a bad profile."""
    prof = doc.get("profile") if isinstance(doc, dict) else None
    if not isinstance(prof, dict):
        raise CalibrationError("the stored calibration profile has no 'profile' object")
    return FittedCalibration.from_dict(prof)


# --- per-connection state --------------------------------------------------------------------------------


@dataclass
class _Pending:
    boundary: int
    target: int | tuple[float, float]
    validation: bool
    label: int | None  # index the client used (pursuit path index), reported back in progress


@dataclass
class _Drift:
    target_px: tuple[float, float]
    boundary: int
    settle_ms: float
    t0_ms: float | None = None
    features: deque[FrameFeatures] = field(default_factory=lambda: deque(maxlen=DRIFT_MAX_SAMPLES))
    images: deque[Any] | None = None
    skipped: int = 0


class ConnectionCalibration:
    """Calibration state of one tracking connection (created on first use; see the module docstring).

    Fields touched by the frame observer (worker thread) and the handlers (event loop) are guarded by
    ``lock``; while a fit runs (``finishing``), frames are not offered to the session.
    """

    def __init__(self, conn: TrackingConnection, loop: asyncio.AbstractEventLoop) -> None:
        self.conn = conn
        self.loop = loop
        self.lock = threading.Lock()
        self.session: CalibrationSession | None = None
        self.calibration_id: str | None = None
        self.layout_name = "9"
        self.user_id: str | None = None
        self.save = False
        self.needed = 1
        self.pursuit_to_session: list[int] | None = None
        self.session_to_label: dict[int, int] = {}
        self.pending: deque[_Pending] = deque()
        self.current: int | None = None
        self.counts: dict[int, int] = {}
        self.finishing = False
        self.finish_task: asyncio.Task[None] | None = None
        self.fit_cancel: threading.Event | None = None
        self.fit_slot: dict[str, bool] | None = None
        self.applied: FittedCalibration | None = None
        self.applied_profile_id: str | None = None
        self.drift: _Drift | None = None
        conn.add_frame_observer(self.observe)
        conn.add_close_callback(self.on_close)

    async def on_close(self) -> None:
        """Close callback of the connection: cancel a fit still running and wait for it to unwind (a
        store write it had begun completes first, see :func:`_store_write`), so no calibration work
        outlives the connection; then drop the collected samples."""
        task = self.finish_task
        if task is not None and not task.done():
            if self.fit_cancel is not None:
                self.fit_cancel.set()  # the training loop stops at its next check
            task.cancel()
            await asyncio.wait([task])
            logs.event("calibration_fit_cancelled", session_id=self.conn.session_id)
        self.clear_calibration()
        with self.lock:
            self.drift = None

    # -- worker thread -------------------------------------------------------------------------------
    def observe(self, ff: FrameFeatures, sample: GazeSample, image_rgb: Any) -> None:
        """Frame observer (worker thread): offer the frame to the running calibration and drift check."""
        out: list[dict[str, Any]] = []
        with self.lock:
            if self.session is not None and not self.finishing:
                self._calibration_frame(ff, sample, image_rgb, out)
            if self.drift is not None:
                self._drift_frame(ff, sample, image_rgb)
        for msg in out:
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(self.conn.send(msg), self.loop)

    def _label(self, idx: int) -> int:
        return self.session_to_label.get(idx, idx)

    def _progress(self, idx: int) -> dict[str, Any]:
        assert self.session is not None
        k = self.counts.get(idx, 0)
        x, y = self.session.targets_px[idx]
        return {
            "type": "calibration_progress",
            "calibration_id": self.calibration_id,
            "index": self._label(idx),
            "x_px": round(x, 2),
            "y_px": round(y, 2),
            "samples": k,
            "needed": self.needed,
            "done": k >= self.needed,
        }

    def _calibration_frame(self, ff: FrameFeatures, sample: GazeSample, image_rgb: Any, out: list) -> None:
        s = self.session
        assert s is not None
        while self.pending and self.pending[0].boundary <= sample.frame_index:
            p = self.pending.popleft()
            try:
                idx = s.target_shown(p.target, sample.t_ms, validation=p.validation)
            except GazescopeError as exc:
                out.append(self.conn.wire.error(exc.code, exc.message))
                continue
            if p.label is not None:
                self.session_to_label.setdefault(idx, p.label)
            if idx != self.current:
                self.current = idx
                if self.pursuit_to_session is None:
                    out.append(self._progress(idx))
        kept = s.add(ff, sample.t_ms, is_blinking=bool(sample.is_blinking), image_rgb=image_rgb)
        if kept and self.current is not None:
            k = self.counts[self.current] = self.counts.get(self.current, 0) + 1
            if k <= self.needed:
                out.append(self._progress(self.current))

    def _drift_frame(self, ff: FrameFeatures, sample: GazeSample, image_rgb: Any) -> None:
        d = self.drift
        assert d is not None
        if sample.frame_index < d.boundary:
            return
        if d.t0_ms is None:
            d.t0_ms = sample.t_ms
        if sample.t_ms - d.t0_ms < d.settle_ms or sample.is_blinking or not ff.face_detected:
            d.skipped += 1
            return
        d.features.append(ff)
        if d.images is not None:
            d.images.append(image_rgb)

    # -- event loop ----------------------------------------------------------------------------------
    def require_session(self) -> CalibrationSession:
        if self.session is None:
            raise CalibrationError(
                "no calibration is running; send calibration_start first", code="no_calibration"
            )
        return self.session

    def clear_calibration(self) -> None:
        with self.lock:
            self.session = None
            self.calibration_id = None
            self.pending.clear()
            self.current = None
            self.counts = {}
            self.session_to_label = {}
            self.pursuit_to_session = None
            self.finishing = False


def state_of(conn: TrackingConnection) -> ConnectionCalibration:
    """The calibration state of a connection (created, with its frame observer, on first use; kept as an
    attribute of the connection so it goes away with it)."""
    st = getattr(conn, "_gs_calibration", None)
    if st is None:
        st = ConnectionCalibration(conn, asyncio.get_running_loop())
        conn._gs_calibration = st  # type: ignore[attr-defined]
    return st


# --- message parsing -------------------------------------------------------------------------------------


def _get(body: dict[str, Any], key: str, default: Any) -> Any:
    """``body[key]``, with JSON ``null`` read as absent (the default)."""
    v = body.get(key)
    return default if v is None else v


def _num(body: dict[str, Any], key: str, default: float | None = None) -> float | None:
    v = _get(body, key, default)
    if v is None:
        return None
    try:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValueError
        check_number(v)
    except (ValueError, OverflowError):
        raise ValidationError(f"{key} must be a finite number, got {str(v)[:32]!r}") from None
    return float(v)


def _int(body: dict[str, Any], key: str, default: int | None = None) -> int | None:
    v = _get(body, key, default)
    if v is None:
        return None
    try:
        if isinstance(v, bool) or not isinstance(v, int | float) or not float(v).is_integer():
            raise ValueError
        check_number(v)
    except (ValueError, OverflowError):
        raise ValidationError(f"{key} must be an integer, got {str(v)[:32]!r}") from None
    return int(v)


def _str(body: dict[str, Any], key: str, default: str | None = None, max_len: int = 256) -> str | None:
    v = _get(body, key, default)
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) < 10**max_len:
        v = str(v)
    if not isinstance(v, str) or not 0 < len(v) <= max_len:
        raise ValidationError(f"{key} must be a string of 1-{max_len} characters")
    return v


def _pursuit_layout(
    duration_ms: float, rate_hz: float, margin_norm: float
) -> tuple[TargetLayout, list[int], list[dict[str, Any]]]:
    """(layout for the session, path index -> session index, path points as target dicts)."""
    path = pursuit_path(duration_ms=duration_ms, rate_hz=rate_hz, margin_norm=margin_norm)
    cal, val = [], []
    for i in range(len(path)):
        (val if i % PURSUIT_VALIDATION_EVERY == PURSUIT_VALIDATION_EVERY - 1 else cal).append(i)
    layout = TargetLayout(
        name="pursuit",
        points_norm=tuple((round(path[i][1], 6), round(path[i][2], 6)) for i in cal),
        validation_norm=tuple((round(path[i][1], 6), round(path[i][2], 6)) for i in val),
    )
    to_session = [0] * len(path)
    for k, i in enumerate(cal + val):
        to_session[i] = k
    val_set = set(val)
    points = [
        {
            "index": i,
            "t_ms": round(t, 3),
            "x_norm": round(x, 6),
            "y_norm": round(y, 6),
            "validation": i in val_set,
        }
        for i, (t, x, y) in enumerate(path)
    ]
    return layout, to_session, points


# --- bounds on client-chosen fits -----------------------------------------------------------------------

#: Most ``alphas`` a client may give the ridge mapper (each one is a leave-one-out fit per axis).
MAX_RIDGE_ALPHAS = 50
#: Most feature names per axis of the ridge mapper.
MAX_RIDGE_FEATURES = 16


def _cnn_defaults() -> dict[str, Any]:
    import inspect

    from gazescope.calibration.cnn import CnnMapper

    return {k: p.default for k, p in inspect.signature(CnnMapper.__init__).parameters.items() if k != "self"}


def bound_mapper_params(
    mapper: str, params: dict[str, Any], settings: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check a client's ``mapper_params`` and bound what a fit may cost: the ``cnn`` mapper's ``epochs``
    and ``time_budget_s`` are clamped to ``Settings.calibration_max_epochs`` and
    ``calibration_max_time_budget_s`` (its defaults too, when they are larger); the ``ridge`` mapper takes
    at most :data:`MAX_RIDGE_ALPHAS` alphas and degrees 1..3. Unknown keys and values out of range are
    refused (ValidationError). Returns (the parameters to use, {key: value asked} of those clamped)."""
    out = dict(params)
    clamped: dict[str, Any] = {}
    if mapper == "cnn":
        allowed = ("epochs", "time_budget_s", "lr", "weight_decay", "seed")
        unknown = sorted(set(out) - set(allowed))
        if unknown:
            raise ValidationError(f"unknown cnn mapper_params {unknown}; known: {', '.join(allowed)}")
        defaults = _cnn_defaults()
        epochs = _int(out, "epochs", defaults["epochs"])
        budget = _num(out, "time_budget_s", defaults["time_budget_s"])
        lr = _num(out, "lr", defaults["lr"])
        wd = _num(out, "weight_decay", defaults["weight_decay"])
        seed = _int(out, "seed", defaults["seed"])
        assert None not in (epochs, budget, lr, wd, seed)
        if epochs < 1 or budget <= 0:  # type: ignore[operator]
            raise ValidationError("cnn epochs must be >= 1 and time_budget_s > 0")
        if not (0 < lr <= 1 and 0 <= wd <= 1):  # type: ignore[operator]
            raise ValidationError("cnn lr must be within (0, 1] and weight_decay within [0, 1]")
        if not 0 <= seed < 2**32:  # type: ignore[operator]
            raise ValidationError("cnn seed must be within 0..4294967295")
        if epochs > settings.calibration_max_epochs:  # type: ignore[operator]
            clamped["epochs"] = epochs
            epochs = settings.calibration_max_epochs
        if budget > settings.calibration_max_time_budget_s:  # type: ignore[operator]
            clamped["time_budget_s"] = budget
            budget = settings.calibration_max_time_budget_s
        out.update(epochs=epochs, time_budget_s=budget, lr=lr, weight_decay=wd, seed=seed)
    elif mapper == "ridge":
        allowed = ("x_features", "y_features", "degrees", "alphas")
        unknown = sorted(set(out) - set(allowed))
        if unknown:
            raise ValidationError(f"unknown ridge mapper_params {unknown}; known: {', '.join(allowed)}")
        for key, most in (("x_features", MAX_RIDGE_FEATURES), ("y_features", MAX_RIDGE_FEATURES),
                          ("degrees", 3), ("alphas", MAX_RIDGE_ALPHAS)):  # fmt: skip
            v = out.get(key)
            if v is None:
                out.pop(key, None)
                continue
            if not isinstance(v, list) or not 0 < len(v) <= most:
                raise ValidationError(f"ridge {key} must be a list of 1-{most} items")
        if "alphas" in out and not all(
            isinstance(a, int | float) and not isinstance(a, bool) and 0 < a <= 1e9 for a in out["alphas"]
        ):
            raise ValidationError("ridge alphas must be numbers within (0, 1e9]")
        if "degrees" in out and not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 3 for d in out["degrees"]
        ):
            raise ValidationError("ridge degrees must be integers within 1..3")
        for key in ("x_features", "y_features"):
            if key in out and not all(isinstance(f, str) and 0 < len(f) <= 64 for f in out[key]):
                raise ValidationError(f"ridge {key} must be feature names")
    return out, clamped


# --- handlers --------------------------------------------------------------------------------------------


async def handle_start(conn: TrackingConnection, inbound: Inbound) -> None:
    """``calibration_start``: open a calibration (replacing a running one); reply ``calibration_started``."""
    b = inbound.body
    s = conn.settings
    layout_name = _str(b, "layout", "9", 16)
    assert layout_name is not None
    if layout_name not in ALL_LAYOUTS:
        raise ValidationError(
            f"unknown calibration layout {layout_name!r}; available: {', '.join(ALL_LAYOUTS)}"
        )
    w = _int(b, "screen_w_px", conn.session.screen_w_px)
    h = _int(b, "screen_h_px", conn.session.screen_h_px)
    if w is None or h is None:
        raise ValidationError("calibration_start needs screen_w_px and screen_h_px (the viewport size)")
    if not (0 < w <= 100_000 and 0 < h <= 100_000):
        raise ValidationError("screen_w_px and screen_h_px must be within 1..100000")
    mapper = _str(b, "mapper", s.default_mapper, 64)
    assert mapper is not None
    params = _get(b, "mapper_params", {})
    if not isinstance(params, dict):
        raise ValidationError("mapper_params must be an object")
    params, clamped = bound_mapper_params(mapper, params, s)
    user_id = _str(b, "user_id", conn.session.user_id)
    save = _get(b, "save", user_id is not None)
    if not isinstance(save, bool):
        raise ValidationError("save must be true or false")
    settle_ms = _num(b, "settle_ms", s.calibration_settle_ms)
    assert settle_ms is not None
    if not 0 <= settle_ms <= 10_000:
        raise ValidationError("settle_ms must be within 0..10000")
    margin = _num(b, "margin_norm", 0.1)
    assert margin is not None
    pursuit = layout_name == "pursuit"
    needed = _int(b, "samples_per_target", 1 if pursuit else s.calibration_samples_per_target)
    assert needed is not None
    if not 1 <= needed <= 100:
        raise ValidationError("samples_per_target must be within 1..100")

    to_session: list[int] | None = None
    if pursuit:
        duration = _num(b, "duration_ms", PURSUIT_DURATION_MS)
        rate = _num(b, "rate_hz", PURSUIT_RATE_HZ)
        assert duration is not None and rate is not None
        if not (1000 <= duration <= 120_000 and 1 <= rate <= 120):
            raise ValidationError("pursuit needs duration_ms within 1000..120000 and rate_hz within 1..120")
        layout, to_session, points = _pursuit_layout(duration, rate, margin)
    else:
        layout = grid_layout(layout_name, margin)
        points = [
            {"index": i, "x_norm": x, "y_norm": y, "validation": layout.is_validation(i)}
            for i, (x, y) in enumerate(layout.all_norm)
        ]
    for p in points:
        p["x_px"] = round(p["x_norm"] * w, 2)
        p["y_px"] = round(p["y_norm"] * h, 2)

    def build() -> CalibrationSession:
        try:
            return CalibrationSession(
                layout, w, h, mapper, settle_ms,
                mapper_params=params, min_samples_per_point=needed, user_id=user_id,
            )  # fmt: skip
        except TypeError as exc:  # unknown mapper parameter
            raise ValidationError(f"bad mapper_params for {mapper!r}: {exc}") from None
        finally:
            limit_torch_threads()  # the cnn mapper imports PyTorch on first use

    st = state_of(conn)
    if st.finishing:
        raise CalibrationError("a calibration is being fitted; wait for its result", code="calibration_busy")
    cs = await conn.state.cpu(build)
    if st.finishing:
        raise CalibrationError("a calibration is being fitted; wait for its result", code="calibration_busy")
    st.clear_calibration()
    cal_id = uuid.uuid4().hex[:12]
    with st.lock:
        st.session = cs
        st.calibration_id = cal_id
        st.layout_name = layout_name
        st.user_id = user_id
        st.save = save
        st.needed = needed
        st.pursuit_to_session = to_session
        if to_session is not None:
            st.session_to_label = {k: i for i, k in enumerate(to_session)}
    logs.event(
        "calibration_started", session_id=conn.session_id, calibration_id=cal_id, layout=layout_name,
        mapper=mapper, screen_w_px=w, screen_h_px=h,
    )  # fmt: skip
    await conn.send(
        {
            "type": "calibration_started",
            "calibration_id": cal_id,
            "layout": layout_name,
            "mapper": mapper,
            "screen_w_px": w,
            "screen_h_px": h,
            "settle_ms": settle_ms,
            "samples_per_target": needed,
            "user_id": user_id,
            "save": save,
            "mapper_params": params,
            **({"clamped": clamped} if clamped else {}),
            "targets": points,
        }
    )


async def handle_target(conn: TrackingConnection, inbound: Inbound) -> None:
    """``calibration_target``: the client shows target ``index`` (or the point ``x_px``/``y_px``) from now
    on (``validation: true`` marks a custom point as a validation point)."""
    b = inbound.body
    st = state_of(conn)
    validation = _get(b, "validation", False)
    if not isinstance(validation, bool):
        raise ValidationError("validation must be true or false")
    with st.lock:
        cs = st.require_session()
        n = len(cs.targets_px)
        index = _int(b, "index")
        label: int | None = None
        target: int | tuple[float, float]
        if index is not None:
            if st.pursuit_to_session is not None:
                if not 0 <= index < len(st.pursuit_to_session):
                    raise ValidationError(
                        f"target index {index} out of range 0..{len(st.pursuit_to_session) - 1}"
                    )
                label, target = index, st.pursuit_to_session[index]
            else:
                if not 0 <= index < n:
                    raise ValidationError(f"target index {index} out of range 0..{n - 1}")
                target = index
        else:
            x, y = _num(b, "x_px"), _num(b, "y_px")
            if x is None or y is None:
                raise ValidationError("calibration_target needs an index or x_px and y_px")
            if not (0 <= x <= cs.screen_w_px and 0 <= y <= cs.screen_h_px):
                raise ValidationError(
                    f"target ({x:g}, {y:g}) lies off the {cs.screen_w_px}x{cs.screen_h_px} screen"
                )
            target = (x, y)
        if len(st.pending) >= MAX_PENDING_TARGETS:
            raise ValidationError(
                f"too many targets announced before a frame showed them (at most {MAX_PENDING_TARGETS}): "
                "send frames while showing targets"
            )
        st.pending.append(_Pending(conn.next_frame_index, target, validation, label))


def _point_rows(st: ConnectionCalibration, cs: CalibrationSession, result: CalibrationResult) -> list[dict]:
    where = {tuple(p): i for i, p in enumerate(cs.targets_px)}
    rows = []
    for p in result.points:
        idx = where.get(tuple(p.target_px))
        rows.append(
            {
                "index": None if idx is None else st._label(idx),
                "target_px": [round(v, 2) for v in p.target_px],
                "mean_px": [round(v, 2) for v in p.estimate_px],
                "error_px": round(p.error_px, 2),
                "samples": p.n_samples,
                "validation": p.validation,
            }
        )
    return rows


def _result_doc(conn: TrackingConnection, kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"{kind}-{uuid.uuid4().hex[:12]}",
        "kind": kind,
        "session_id": conn.session_id,
        "created_at_ms": round(time.time() * 1000.0, 3),
        **fields,
    }


async def _store_write(conn: TrackingConnection, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a store write in the I/O pool; a cancellation (the connection ending) waits until the write in
    the thread has finished before it propagates, so the connection's end (and a session deletion that
    waits for it) comes after every write this module began."""
    fut = asyncio.ensure_future(conn.state.io(fn, *args, **kwargs))
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        await asyncio.wait([fut])
        raise


async def _record(conn: TrackingConnection, doc: dict[str, Any]) -> None:
    """Store a session-linked result document; a store failure is logged, never fatal. Skipped once the
    connection is ending or its session was deleted (a document written then would outlive the session)."""
    if conn.closing or conn.deleted:
        logs.event("calibration_record_skipped", session_id=conn.session_id, kind=doc.get("kind"))
        return
    try:
        await _store_write(conn, conn.state.store.put_document, RESULTS, doc["id"], doc)
    except GazescopeError as exc:
        logs.event("calibration_record_failed", session_id=conn.session_id, error=exc.message)


async def _apply(conn: TrackingConnection, cal: FittedCalibration, profile_id: str | None) -> None:
    """Attach ``cal`` to the tracker and record the profile id on the session (not once the connection
    is ending or its session was deleted)."""
    st = state_of(conn)
    conn.set_calibration(cal)
    with st.lock:
        st.applied = cal
        st.applied_profile_id = profile_id
    if conn.closing or conn.deleted:
        return
    if profile_id is not None and conn.session.calibration_id != profile_id:
        try:
            conn.session = await _store_write(
                conn, conn.state.store.update_session, conn.session_id, calibration_id=profile_id
            )
        except GazescopeError as exc:
            logs.event("calibration_session_update_failed", session_id=conn.session_id, error=exc.message)


async def handle_finish(conn: TrackingConnection, inbound: Inbound) -> None:
    """``calibration_finish``: fit and validate in the CPU pool; reply ``calibration_result`` and apply it;
    ``not_enough_data`` keeps the calibration open.

    The fit runs as a task, so the connection keeps receiving (a ``cnn`` fit takes seconds); meanwhile
    ``calibration_start``/``calibration_cancel``/another finish are answered with ``calibration_busy``.
    When the connection ends (client left, session ended or deleted) a running fit is cancelled
    (:meth:`ConnectionCalibration.on_close`) and nothing of it is stored: the client never saw its
    result."""
    st = state_of(conn)
    state = conn.state
    with st.lock:
        cs = st.require_session()
        if st.finishing:
            raise CalibrationError("this calibration is being fitted already", code="calibration_busy")
        if not state.reserve_fit():
            state.metrics.refused.labels(reason="fits").inc()
            n = state.settings.calibration_fit_threads
            raise CalibrationError(
                f"the server is fitting {n} calibration{'s' if n != 1 else ''} already, the most it runs at "
                "once (GAZESCOPE_CALIBRATION_FIT_THREADS); the calibration stays open: send "
                "calibration_finish again in a few seconds",
                code="server_busy",
            )
        st.finishing = True
        cal_id = st.calibration_id
        assert cal_id is not None
    cancel = threading.Event()
    st.fit_cancel = cancel
    task = asyncio.create_task(_run_finish(conn, st, cs, cal_id, cancel), name=f"gs-calfit-{cal_id}")
    slot = {"handed": False}  # the fit slot is given back by state.fit once it ran, else here
    st.fit_slot = slot
    st.finish_task = task

    def _done(_t: asyncio.Task[None]) -> None:
        if not slot["handed"]:
            state.release_fit()

    task.add_done_callback(_done)


async def _run_finish(
    conn: TrackingConnection,
    st: ConnectionCalibration,
    cs: CalibrationSession,
    cal_id: str,
    cancel: threading.Event,
) -> None:
    try:
        await _finish(conn, st, cs, cal_id, cancel)
    except FitStoppedError as exc:
        if cancel.is_set():  # the client left or the session was deleted: nobody to tell
            logs.event("calibration_fit_stopped", session_id=conn.session_id, calibration_id=cal_id)
            return
        limit = conn.settings.calibration_fit_timeout_s
        logs.event(
            "calibration_fit_timeout", session_id=conn.session_id, calibration_id=cal_id, limit_s=limit
        )
        await conn.send(
            conn.wire.error(
                "calibration_timeout",
                f"the fit ran past GAZESCOPE_CALIBRATION_FIT_TIMEOUT_S = {limit:g} s and was stopped "
                f"({exc.message}); the calibration stays open: finish again with a smaller time_budget_s "
                "or epochs, or a layout with validation targets (no leave-one-out refits)",
            )
        )
    except GazescopeError as exc:
        await conn.send(conn.wire.error(exc.code, exc.message))
    except Exception:
        logs.log.exception("calibration fit failed", extra={"session_id": conn.session_id})
        await conn.send(conn.wire.error("internal_error", "fitting the calibration failed"))
    finally:
        st.finish_task = None


async def _finish(
    conn: TrackingConnection,
    st: ConnectionCalibration,
    cs: CalibrationSession,
    cal_id: str,
    cancel: threading.Event,
) -> None:
    deadline = time.monotonic() + conn.settings.calibration_fit_timeout_s

    def should_stop() -> bool:
        return cancel.is_set() or time.monotonic() > deadline

    slot = st.fit_slot
    if slot is not None:
        slot["handed"] = True  # state.fit gives the slot back when its thread is done
    try:
        result = await conn.state.fit(cs.finish, should_stop, cancel=cancel)
    except BaseException:  # not enough data, a failed fit, or cancellation: the calibration stays open
        with st.lock:
            st.finishing = False
        raise
    fitted = replace(result.calibration, profile_id=cal_id)
    fitted, pooled = await pool_with_history(conn, fitted, cs.mapper_params)  # issue 14: profiles accumulate
    if conn.closing or conn.deleted:  # nobody to tell and no session to record it on
        st.clear_calibration()
        logs.event("calibration_fit_dropped", session_id=conn.session_id, calibration_id=cal_id)
        return
    with st.lock:
        save, layout_name = st.save, st.layout_name
        points = _point_rows(st, cs, result)
    st.clear_calibration()
    profile_id: str | None = None
    save_error: str | None = None
    if save:
        try:
            await _store_write(
                conn, save_profile, conn.state.store, fitted, source_session_id=conn.session_id
            )
            profile_id = fitted.profile_id
        except (StorageError, ValidationError) as exc:
            save_error = exc.message
    await _apply(conn, fitted, profile_id)
    accuracy = {
        "mean_error_px": round(result.mean_error_px, 2),
        "median_error_px": round(result.median_error_px, 2),
        "mean_error_pct_width": round(result.mean_error_pct_width, 3),
        "precision_rms_px": None if result.precision_rms_px is None else round(result.precision_rms_px, 2),
        "validation_source": result.validation_source,
        "n_calibration_points": result.n_calibration_points,
        "n_validation_points": result.n_validation_points,
        **pooled,
    }
    msg: dict[str, Any] = {
        "type": "calibration_result",
        "calibration_id": cal_id,
        "profile_id": profile_id,
        "user_id": fitted.user_id,
        "mapper": fitted.mapper_name,
        "layout": layout_name,
        "screen_w_px": fitted.screen_w_px,
        "screen_h_px": fitted.screen_h_px,
        "accuracy": accuracy,
        "grade": result.grade,
        "points": points,
        "counts": dict(result.counts),
    }
    if save_error is not None:
        msg["save_error"] = save_error
    logs.event(
        "calibration_finished", session_id=conn.session_id, calibration_id=cal_id, mapper=fitted.mapper_name,
        mean_error_px=accuracy["mean_error_px"], grade=result.grade, saved=profile_id is not None,
    )  # fmt: skip
    await _record(
        conn,
        _result_doc(
            conn, "calibration", calibration_id=cal_id, profile_id=profile_id, user_id=fitted.user_id,
            mapper=fitted.mapper_name, layout=layout_name, screen_w_px=fitted.screen_w_px,
            screen_h_px=fitted.screen_h_px, accuracy=accuracy, grade=result.grade, points=points,
        ),
    )  # fmt: skip
    await conn.send(msg)


async def handle_cancel(conn: TrackingConnection, inbound: Inbound) -> None:
    """``calibration_cancel``: drop a running calibration (the applied one, if any, stays)."""
    st = state_of(conn)
    with st.lock:
        if st.finishing:
            raise CalibrationError(
                "this calibration is being fitted; it cannot be cancelled now", code="calibration_busy"
            )
        cal_id = st.calibration_id
    st.clear_calibration()
    await conn.send({"type": "calibration_cancelled", "calibration_id": cal_id})


async def use_profile(conn: TrackingConnection, doc: dict[str, Any], source: str) -> FittedCalibration:
    """Apply a stored profile document to a connection, record it on the session, and tell the client
    (``calibration_applied``)."""
    cal = await conn.state.cpu(calibration_from_document, doc)
    await _apply(conn, cal, cal.profile_id)
    acc = dict(cal.accuracy)
    msg = {
        "type": "calibration_applied",
        "profile_id": cal.profile_id,
        "user_id": cal.user_id,
        "mapper": cal.mapper_name,
        "layout": cal.layout,
        "screen_w_px": cal.screen_w_px,
        "screen_h_px": cal.screen_h_px,
        "accuracy": acc,
        "grade": acc.get("grade"),
        "source": source,
    }
    sw, sh = conn.session.screen_w_px, conn.session.screen_h_px
    if sw and sh and (sw, sh) != (cal.screen_w_px, cal.screen_h_px):
        msg["warning"] = (
            f"the profile was made on a {cal.screen_w_px}x{cal.screen_h_px} screen, the session has "
            f"{sw}x{sh}: screen points are in the profile's pixels; recalibrate for this screen"
        )
    await _record(
        conn,
        _result_doc(
            conn, "applied", profile_id=cal.profile_id, user_id=cal.user_id, mapper=cal.mapper_name,
            layout=cal.layout, screen_w_px=cal.screen_w_px, screen_h_px=cal.screen_h_px,
            accuracy=acc, grade=acc.get("grade"), source=source,
        ),
    )  # fmt: skip
    logs.event("calibration_applied", session_id=conn.session_id, profile_id=cal.profile_id, source=source)
    if conn.wire.announces:
        await conn.send(msg)
    return cal


async def handle_use(conn: TrackingConnection, inbound: Inbound) -> None:
    """``calibration_use``: apply a saved profile (``profile_id``, or the latest of ``user_id``)."""
    b = inbound.body
    pid = _str(b, "profile_id", None, 128)
    uid = _str(b, "user_id")
    store = conn.state.store
    if pid is not None:
        doc = await conn.state.io(get_profile_document, store, pid)
    elif uid is not None:
        doc = await conn.state.io(
            latest_profile_document, store, uid, conn.session.screen_w_px, conn.session.screen_h_px
        )
    else:
        raise ValidationError("calibration_use needs a profile_id or a user_id")
    await use_profile(conn, doc, "calibration_use")


async def handle_drift_start(conn: TrackingConnection, inbound: Inbound) -> None:
    """``drift_start``: the client shows one point (``x_px``, ``y_px``); collect frames for a drift check."""
    b = inbound.body
    st = state_of(conn)
    x, y = _num(b, "x_px"), _num(b, "y_px")
    if x is None or y is None:
        raise ValidationError("drift_start needs x_px and y_px")
    settle = _num(b, "settle_ms", conn.settings.calibration_settle_ms)
    assert settle is not None
    with st.lock:
        cal = st.applied
        if cal is None:
            raise CalibrationError(
                "no calibration is applied: calibrate or send calibration_use first", code="not_calibrated"
            )
        if not (0 <= x <= cal.screen_w_px and 0 <= y <= cal.screen_h_px):
            raise ValidationError(f"({x:g}, {y:g}) lies off the {cal.screen_w_px}x{cal.screen_h_px} screen")
        st.drift = _Drift((x, y), conn.next_frame_index, max(0.0, settle))
        if cal.mapper.needs_patches:
            st.drift.images = deque(maxlen=DRIFT_MAX_FRAMES)
            st.drift.features = deque(maxlen=DRIFT_MAX_FRAMES)
    await conn.send({"type": "drift_started", "x_px": x, "y_px": y, "settle_ms": settle})


async def handle_drift_finish(conn: TrackingConnection, inbound: Inbound) -> None:
    """``drift_finish``: score the collected frames with :func:`check_drift`; reply ``drift_result``."""
    st = state_of(conn)
    with st.lock:
        d, cal = st.drift, st.applied
        if d is None or cal is None:
            raise CalibrationError("no drift check is running; send drift_start first", code="no_drift_check")
        st.drift = None
        feats = list(d.features)
        images = list(d.images) if d.images is not None else None
    try:
        check = await conn.state.cpu(check_drift, cal, feats, d.target_px, images)
    except NotEnoughDataError:
        with st.lock:
            if st.drift is None:
                st.drift = d  # keep collecting
        raise
    out = check.to_dict()
    msg = {"type": "drift_result", "profile_id": st.applied_profile_id, **out}
    await _record(conn, _result_doc(conn, "drift", profile_id=st.applied_profile_id, **out))
    await conn.send(msg)


async def apply_session_profile(conn: TrackingConnection) -> None:
    """Start hook: apply the profile named by the session's ``calibration_id``, or the latest profile of
    its ``user_id``. A missing profile named by ``calibration_id`` is reported to the client as an
    ``error`` (``profile_not_found``); tracking goes on uncalibrated."""
    info = conn.session
    store = conn.state.store
    try:
        if info.calibration_id:
            doc = await conn.state.io(get_profile_document, store, info.calibration_id)
            source = "session_calibration_id"
        elif info.user_id:
            try:
                doc = await conn.state.io(
                    latest_profile_document, store, info.user_id, info.screen_w_px, info.screen_h_px
                )
            except ProfileNotFoundError:
                return
            source = "session_user_id"
        else:
            return
        await use_profile(conn, doc, source)
    except GazescopeError as exc:
        logs.event("calibration_apply_failed", session_id=conn.session_id, error=exc.message)
        if conn.wire.announces:
            await conn.send(conn.wire.error(exc.code, exc.message))


def layouts_info(settings: Any) -> dict[str, Any]:
    """What ``GET /api/calibration/layouts`` returns: grid layouts (normalised points), the pursuit path
    parameters, the registered mappers and the defaults."""
    grids = []
    for name in LAYOUT_NAMES:
        lay = grid_layout(name)
        grids.append(
            {**lay.to_dict(), "n_points": len(lay.points_norm), "n_validation": len(lay.validation_norm)}
        )
    return {
        "layouts": grids,
        "pursuit": {
            "name": "pursuit",
            "duration_ms": PURSUIT_DURATION_MS,
            "rate_hz": PURSUIT_RATE_HZ,
            "validation_every": PURSUIT_VALIDATION_EVERY,
            "samples_per_target": 1,
        },
        "layout_names": list(ALL_LAYOUTS),
        "default_layout": "9",
        "mappers": available_mappers(),
        "default_mapper": settings.default_mapper,
        "settle_ms": settings.calibration_settle_ms,
        "samples_per_target": settings.calibration_samples_per_target,
    }


def register(registry: HandlerRegistry) -> None:
    """Handle the calibration messages on the app's tracking connections; apply a session's saved
    calibration when one starts."""
    for message_type, handler in (
        ("calibration_start", handle_start),
        ("calibration_target", handle_target),
        ("calibration_finish", handle_finish),
        ("calibration_cancel", handle_cancel),
        ("calibration_use", handle_use),
        ("drift_start", handle_drift_start),
        ("drift_finish", handle_drift_finish),
    ):
        registry.register(message_type, handler)
    registry.add_start_hook(apply_session_profile)
