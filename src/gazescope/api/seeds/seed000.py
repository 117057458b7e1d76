"""Seed 000 (FastAPI + Redis gaze and activity tracker; a React client on http://localhost:3000).

Both client generations are served where they do not conflict. REST (the client calls it with
``fetch(..., {credentials: "include"})``; the app's CORS answers allowed origins with
``Access-Control-Allow-Credentials: true`` and the origin itself):

* ``POST /session/start`` ``{"session_duration": <planned minutes>, "user_id"?: str}`` (body optional;
  gazescope's session fields and ``session_id`` also accepted) -> 201 ``{"message", "session_id",
  "start_time" (ISO 8601 UTC), "session_duration", "status": "active", "session": {...}}``. The planned
  duration is stored with the session (document ``seed000/<session_id>``, deleted with the session).
* ``GET /session/{id}`` -> the session's ``session_id``, ``start_time``, ``session_duration``, ``status``
  (``active`` / ``completed``), ``user_id``, ``end_time``, both flat and under ``"data"``.
* ``GET /session/{id}/latest_activity`` -> the newest activity record (below); 404 when there is none.
* ``POST /session/end`` ``{"session_id"}`` -> ``session_id``, ``focus_time`` and ``distraction_time``
  (seconds), ``session_report`` (seconds per activity), ``message``, ``report`` (``{session_id,
  focus_time, distraction_time, activity_data}``, ``activity_data`` = seconds per activity), and
  gazescope's own report keys (``frames``, ``focus_pct``, ``attention_state_s`` ...).
* ``GET /sessions`` -> a JSON list, newest first, of ``{session_id, user_id, start_time,
  session_duration, status, focus_time, distraction_time}`` plus gazescope's session fields (``id``,
  ``label``, ``sample_count`` ...). ``GET /sessions/user/{user_id}`` -> ``{"message", "data": [...]}``.
  ``focus_time``/``distraction_time`` are 0 until a session has ended.

WebSocket ``/ws/session/{id}/track``: the client sends, every 100 ms, an untyped text message
``{"image": "data:image/jpeg;base64,...", "timestamp": <epoch ms>}`` (gazescope's own messages work too:
binary JPEG, ``{"type": "frame", ...}``, calibration). The frames are tracked and stored like native
ones (samples, report, live observers). Each processed frame is answered with the native ``sample``
message plus:

* ``face``: ``{x, y, w, h}`` box of the face landmarks in frame pixels (ints), or null;
* ``gaze``: ``{"horizontal": -1..1, "vertical": 0..1, "eyes": {"left": {x, y}, "right": {x, y}}}`` or
  null when the pupils are not measured (no face, eyes closed). ``horizontal`` = 2 * ``horizontal_ratio``
  - 1 (the iris position between the eye corners, -1 at the subject's right, +1 at the left, GazeTracking
  orientation); ``vertical`` = ``vertical_ratio`` (iris distance below the upper lid over the lid
  opening); ``eyes``: pupil centres of the subject's left/right eye in frame pixels;
* the activity record: ``timestamp`` (ISO 8601 UTC of the frame's arrival), ``gaze_direction``
  (``left`` / ``right`` / ``center``, null when not measured), ``activity`` (a string: while the attention
  state is ``focused``, what the gaze of the last ``Settings.activity_window_s`` does, ``reading``,
  ``scanning`` or ``idle``, or ``focused`` until a window can be classified; otherwise the attention state
  itself, ``looking_away``, ``eyes_closed``, ``drowsy``, ``absent``; :mod:`gazescope.analytics.activity`),
  ``blink_rate`` (blinks per minute over ``Settings.blink_rate_window_s``).

A frame dropped under load (a newer one arrived while it waited) is answered ``{"type": "frame_dropped",
"message", "face", "gaze", ...}`` with the last known face, gaze and activity, so every frame gets a reply.
Errors on the socket are the native ``{"type": "error", "code", "message"}`` with ``face`` and ``gaze``
null, so the client always finds both keys; the connection goes on. ``focus_time`` is the time in the
``focused`` state; ``distraction_time`` the time in every other state; ``session_report`` /
``activity_data`` the seconds per activity of the report (``activity_s``: the labels above).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, HTTPException, Query, WebSocket, status
from pydantic import BaseModel, ConfigDict, Field

from gazescope.analytics.activity import LiveActivity
from gazescope.api.deps import app_state
from gazescope.api.limits import MAX_QUERY_INT
from gazescope.api.models import SessionCreate
from gazescope.api.seeds.base import (
    Inbound,
    NativeWire,
    ProtocolError,
    State,
    iso_utc,
    loads_object,
    number,
    routers,
)
from gazescope.api.state import AppState
from gazescope.api.ws.tracking import run_tracking
from gazescope.config import ActivitySettings
from gazescope.domain import AttentionState, FrameFeatures, ResourceId, SessionInfo
from gazescope.errors import NotFoundError
from gazescope.services import lifecycle

router, protected = routers("seed 000")

#: Store collection holding each seed 000 session's planned duration.
COLLECTION = "seed000"
FOCUSED = AttentionState.FOCUSED.value


class SessionStart(SessionCreate):
    """Body of ``POST /session/start`` (optional; unknown keys ignored): the planned minutes, gazescope's
    session fields, and ``session_id`` to choose the id (1-128 characters of letters, digits, ``_.-``)."""

    model_config = ConfigDict(extra="ignore")

    session_duration: int | None = Field(None, ge=0, le=7 * 24 * 60, description="Planned minutes.")
    session_id: ResourceId | None = None


class SessionEnd(BaseModel):
    """Body of ``POST /session/end``."""

    model_config = ConfigDict(extra="ignore")

    session_id: ResourceId


# --- translation ----------------------------------------------------------------------------------------


def face_box(features: FrameFeatures | None) -> dict[str, int] | None:
    """``{x, y, w, h}`` of the face landmarks' bounding box in frame pixels, or None without a face."""
    if features is None or features.landmarks is None:
        return None
    x0, y0, x1, y1 = features.landmarks.bbox_px
    return {"x": round(x0), "y": round(y0), "w": round(x1 - x0), "h": round(y1 - y0)}


def gaze_of(sample: dict[str, Any]) -> dict[str, Any] | None:
    """Seed 000's ``gaze`` of a sample (see module docstring), or None when not measured."""
    h, v = sample.get("horizontal_ratio"), sample.get("vertical_ratio")
    left, right = sample.get("pupil_left_px"), sample.get("pupil_right_px")
    if h is None or v is None or left is None or right is None:
        return None
    return {
        "horizontal": round(min(1.0, max(-1.0, 2.0 * float(h) - 1.0)), 4),
        "vertical": round(min(1.0, max(0.0, float(v))), 4),
        "eyes": {
            "left": {"x": round(float(left[0]), 1), "y": round(float(left[1]), 1)},
            "right": {"x": round(float(right[0]), 1), "y": round(float(right[1]), 1)},
        },
    }


def activity_record(sample: dict[str, Any], epoch_ms: float, activity: str | None = None) -> dict[str, Any]:
    """The activity record of a sample that arrived at ``epoch_ms``; ``activity`` is its label from
    :class:`~gazescope.analytics.activity.LiveActivity` (the attention state when not given)."""
    return {
        "timestamp": iso_utc(epoch_ms),
        "gaze_direction": None if sample.get("is_blinking") else sample.get("direction"),
        "activity": activity if activity is not None else sample.get("attention_state"),
        "blink_rate": round(float(sample.get("blink_rate_per_min") or 0.0), 2),
    }


def times_of(report: dict[str, Any] | None) -> tuple[float, float, dict[str, float]]:
    """(focus_time, distraction_time, seconds per activity) of a gazescope report (zeros without): the
    time ``focused`` and in the other attention states, and the report's ``activity_s`` (its
    ``attention_state_s`` for reports made before activities)."""
    states = {k: round(float(v), 3) for k, v in ((report or {}).get("attention_state_s") or {}).items()}
    focus = states.get(FOCUSED, 0.0)
    activity = (report or {}).get("activity_s")
    per = {k: round(float(v), 3) for k, v in activity.items()} if isinstance(activity, dict) else states
    return focus, round(sum(states.values()) - focus, 3), per


class Seed000Wire(NativeWire):
    """Seed 000's ``/ws/session/{id}/track`` (see module docstring): native, plus untyped ``{image,
    timestamp}`` frames, and ``face``/``gaze``/activity record in every frame reply."""

    name = "seed000"
    accepts_landmarks = False  # the seed's clients send frames only
    wants_features = True
    frame_hint = 'send {"image": "data:image/jpeg;base64,...", "timestamp": <epoch ms>}'

    def __init__(self, activity: ActivitySettings | None = None) -> None:
        self.activity = LiveActivity(activity)
        self._last: dict[str, Any] = {
            "face": None,
            "gaze": None,
            "gaze_direction": None,
            "activity": None,
            "blink_rate": 0.0,
        }

    def parse_text(self, text: str) -> Inbound:
        msg = loads_object(text)
        if "type" in msg:
            return self.read(msg)
        image = msg.get("image")
        if not isinstance(image, str) or not image:
            raise ProtocolError("bad_message", self.frame_hint)
        return Inbound("frame", payload=image, client_t_ms=number(msg.get("timestamp")))

    def sample(
        self, sample: dict[str, Any], inbound: Inbound, epoch_ms: float, features: FrameFeatures | None = None
    ) -> dict[str, Any]:
        out = super().sample(sample, inbound, epoch_ms)
        label = self.activity.update(sample)
        out.update(face=face_box(features), gaze=gaze_of(sample), **activity_record(sample, epoch_ms, label))
        self._last = {k: out[k] for k in ("face", "gaze", "gaze_direction", "activity", "blink_rate")}
        return out

    def dropped(self, inbound: Inbound, epoch_ms: float) -> dict[str, Any]:
        return {
            "type": "frame_dropped",
            "message": "a newer frame arrived before this one was processed; face and gaze are the last known",
            **self._last,
            "timestamp": iso_utc(epoch_ms),
            "client_t_ms": inbound.client_t_ms,
        }

    def error(self, code: str, message: str, inbound: Inbound | None = None) -> dict[str, Any]:
        return {**super().error(code, message, inbound), "face": None, "gaze": None}

    def hello(self, message: dict[str, Any]) -> dict[str, Any]:
        return {**message, "face": None, "gaze": None}


# --- sessions -------------------------------------------------------------------------------------------


def _planned(state: AppState, session_id: str) -> int | None:
    try:
        return state.store.get_document(COLLECTION, session_id).get("session_duration")
    except NotFoundError:
        return None


def _listing(state: AppState, info: SessionInfo, with_times: bool) -> dict[str, Any]:
    """Seed 000's view of a session (blocking: store calls), with gazescope's fields alongside."""
    out: dict[str, Any] = {
        **info.to_dict(),
        "session_id": info.id,
        "user_id": info.user_id,
        "start_time": iso_utc(info.created_at_ms),
        "end_time": iso_utc(info.ended_at_ms) if info.ended_at_ms else None,
        "session_duration": _planned(state, info.id),
        "status": "completed" if info.status == "ended" else "active",
    }
    if with_times:
        report = state.store.get_report(info.id) if info.status == "ended" else None
        out["focus_time"], out["distraction_time"], _ = times_of(report)
    return out


def _list(state: AppState, user_id: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    infos = state.store.list_sessions(user_id=user_id, limit=limit, offset=offset)
    return [_listing(state, i, True) for i in infos]


@protected.post("/session/start", status_code=status.HTTP_201_CREATED)
async def session_start(state: State, body: Annotated[SessionStart | None, Body()] = None) -> dict[str, Any]:
    """Start a session (see module docstring); 201."""
    fields = body.model_dump(exclude_none=True) if body else {}
    session_id = fields.pop("session_id", None)
    duration = fields.pop("session_duration", None)
    info = await lifecycle.create_session(state, session_id, **fields)
    doc = {"session_id": info.id, "session_duration": duration}
    await state.io(state.store.put_document, COLLECTION, info.id, doc)
    return {
        "message": "Session started",
        "session_id": info.id,
        "start_time": iso_utc(info.created_at_ms),
        "session_duration": duration,
        "status": "active",
        "session": info.to_dict(),
    }


@protected.get("/session/{session_id}")
async def session_get(state: State, session_id: str) -> dict[str, Any]:
    """The session, flat and under ``data``; 404 when unknown."""
    info = await lifecycle.get_session(state, session_id)
    view = await state.io(_listing, state, info, False)
    return {**view, "data": view}


@protected.get("/session/{session_id}/latest_activity")
async def latest_activity(state: State, session_id: str) -> dict[str, Any]:
    """The newest activity record of the session; 404 when the session has none (or is unknown)."""
    info = await lifecycle.get_session(state, session_id)
    conn = state.connections.get(session_id)
    tracked = conn.last_sample if conn is not None else None
    sample = tracked.to_dict() if tracked is not None else None  # JSON, as the stored samples read below
    label = None
    if conn is not None and isinstance(conn.wire, Seed000Wire) and sample is not None:
        label = conn.wire.activity.label(sample)  # the stream's own trailing window
    elif info.sample_count:  # the stored samples of the last window (at most 60 per second of it)
        n = min(info.sample_count, int(60 * state.settings.activity_window_s) + 1)
        recent = await state.io(state.store.get_samples, session_id, start=info.sample_count - n, limit=n)
        t_last = recent[-1].get("t_ms") if recent else None
        if sample is not None and (not isinstance(t_last, int | float) or sample.get("t_ms", -1) > t_last):
            recent.append(sample)  # tracked here, newer than the store
        sample = recent[-1] if recent else sample
        label = await state.cpu(LiveActivity(state.settings.activity).label_last, recent)
    if sample is None or not isinstance(sample.get("t_ms"), int | float):
        raise HTTPException(404, f"session {session_id!r} has no activity yet")
    return {"session_id": session_id, **activity_record(sample, info.created_at_ms + sample["t_ms"], label)}


@protected.post("/session/end")
async def session_end(state: State, body: SessionEnd) -> dict[str, Any]:
    """End a session: both client generations' keys plus gazescope's report; 404 when unknown."""
    report = await lifecycle.end_session(state, body.session_id)
    focus, distraction, per = times_of(report)
    return {
        **report,
        "message": "Session ended",
        "session_id": body.session_id,
        "focus_time": focus,
        "distraction_time": distraction,
        "session_report": per,
        "report": {
            "session_id": body.session_id,
            "focus_time": focus,
            "distraction_time": distraction,
            "activity_data": per,
        },
    }


@protected.get("/sessions")
async def sessions(
    state: State,
    user_id: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_QUERY_INT)] = 0,
) -> list[dict[str, Any]]:
    """Sessions, newest first (a JSON list, as the seed's server answered)."""
    return await state.io(_list, state, user_id, limit, offset)


@protected.get("/sessions/user/{user_id}")
async def sessions_of_user(
    state: State,
    user_id: str,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_QUERY_INT)] = 0,
) -> dict[str, Any]:
    """One user's sessions: ``{"message", "data": [...]}``."""
    data = await state.io(_list, state, user_id[:256], limit, offset)
    return {"message": f"{len(data)} session(s) of user {user_id[:256]!r}", "data": data}


@router.websocket("/ws/session/{session_id}/track")
async def track(ws: WebSocket, session_id: str) -> None:
    """Seed 000's tracking WebSocket (see module docstring)."""
    await run_tracking(ws, session_id, Seed000Wire(app_state(ws).settings.activity), "seed000")
