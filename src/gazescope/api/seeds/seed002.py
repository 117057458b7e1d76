"""Seed 002 (dlib eye-contact server for a React interview app; ``WebcamToGaze.js`` + ``useGazeSocket.js``).

WebSocket ``/ws``:

* On open the client sends ``{"type": "init", "clientInfo": {...}}``: accepted silently (no reply).
* Then 320x240 JPEG frames at 8 FPS, ``{"type": "frame", "data": "data:image/jpeg;base64,...",
  "timestamp": <epoch ms>}``, without flow control (frames arriving while one is processed are dropped
  oldest-first by the engine, unanswered, as the seed did).
* The client replaces its whole metrics state with whatever message arrives, so EVERY message sent has the
  metric keys ``{t, earLeft, earRight, blink, eyeContact, eyeContactPct, gazeVector, conf}``; a problem is
  reported inside that shape, with the last metrics sent (zeros before the first) plus ``type: "error"``,
  ``code``, ``message`` and ``error`` (= ``message``); ``{"type": "ping"}`` gets the shape plus
  ``type: "pong"``.
* A connection that has sent neither ``init`` nor a frame within ``Settings.seed002_start_timeout_s``
  (30 s; the seed's client sends ``init`` on open) is closed with 1001, so silent connections cannot hold
  the connection slots. A started idle connection is kept ``Settings.seed002_idle_timeout_s`` (30
  minutes): users press Connect and may wait minutes before Start; dead peers are found by uvicorn's WebSocket pings
  (``Settings.ws_ping_interval_s`` / ``ws_ping_timeout_s``).

Each connection gets a session of its own (label ``seed002 /ws``, ``user_id`` from ``?user_id=``), ended
with its report when the connection closes.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import WebSocket

from gazescope.api.seeds.base import Inbound, NativeWire, implicit_session, loads_object, routers
from gazescope.api.ws.tracking import run_tracking
from gazescope.config import Settings
from gazescope.domain import FrameFeatures

router, _ = routers("seed 002")

#: Messages the client sends that the seed server ignored.
IGNORED_TYPES = frozenset({"init"})


class EyeContactWire(NativeWire):
    """Seed 002's ``/ws`` (see module docstring). One instance per connection.

    ``t``: server epoch milliseconds (integer) when the frame arrived; ``earLeft``/``earRight``: eye
    aspect ratio of the subject's left/right eye (Soukupova & Cech 2016; 0.0 when no face); ``blink``: eyes
    closed in a blink; ``eyeContact``: the sample's ``eye_contact``, gaze within
    ``Settings.eye_contact_cone_deg`` of the person's neutral gaze toward the device (docs/attention.md);
    ``eyeContactPct``: the seed's figure, the share of frames with a face that had eye contact since the
    connection opened, 0..1 (gazescope's rolling percentage stays in the stored samples);
    ``gazeVector``: [x, y] in -1..1 ([0, 0] when unknown); ``conf``: 0..1.
    """

    name = "seed002"
    accepts_landmarks = False  # the seed's clients send frames only
    announces = False
    type_hint = 'send {"type": "frame", "data": "data:image/jpeg;base64,..."}'
    data_hint = "a frame message needs 'data': a data URL or base64 JPEG"
    time_keys = ("timestamp", "t", "t_ms")

    def __init__(self) -> None:
        self.started = False  # until "init" or a frame arrives (Settings.seed002_start_timeout_s)
        self.face_frames = 0
        self.contact_frames = 0
        self._last: dict[str, Any] | None = None

    def parse_text(self, text: str) -> Inbound | None:
        msg = loads_object(text)
        mtype = msg.get("type")
        if isinstance(mtype, str) and mtype in IGNORED_TYPES:  # a non-string type (e.g. {}) is unhashable
            self.started = self.started or mtype == "init"
            return None
        inbound = self.read(msg)
        if inbound is not None and inbound.type == "frame":
            self.started = True
        return inbound

    def sample(
        self,
        sample: dict[str, Any],
        inbound: Inbound,
        epoch_ms: float,
        features: FrameFeatures | None = None,
    ) -> dict[str, Any]:
        if sample.get("face_detected"):
            self.face_frames += 1
            self.contact_frames += bool(sample.get("eye_contact"))
        gv = sample.get("gaze_vector") or [0.0, 0.0]
        self._last = {
            "t": int(epoch_ms),
            "earLeft": round(float(sample.get("ear_left") or 0.0), 4),
            "earRight": round(float(sample.get("ear_right") or 0.0), 4),
            "blink": bool(sample.get("is_blinking")),
            "eyeContact": bool(sample.get("eye_contact")),
            "eyeContactPct": round(self.contact_frames / self.face_frames, 4) if self.face_frames else 0.0,
            "gazeVector": [round(float(gv[0]), 4), round(float(gv[1]), 4)],
            "conf": round(float(sample.get("confidence") or 0.0), 4),
        }
        return dict(self._last)

    def metrics(self) -> dict[str, Any]:
        """The last metrics sent (zeros before the first), stamped now."""
        base = self._last or {
            "earLeft": 0.0,
            "earRight": 0.0,
            "blink": False,
            "eyeContact": False,
            "eyeContactPct": 0.0,
            "gazeVector": [0.0, 0.0],
            "conf": 0.0,
        }
        return {**base, "t": int(time.time() * 1000.0)}

    def error(self, code: str, message: str, inbound: Inbound | None = None) -> dict[str, Any]:
        return {**self.metrics(), "type": "error", "code": code, "message": message, "error": message}

    def pong(self, inbound: Inbound) -> dict[str, Any]:
        return {**self.metrics(), "type": "pong"}

    def start_timeout_s(self, settings: Settings) -> float | None:
        return settings.seed002_start_timeout_s

    def idle_timeout_s(self, settings: Settings) -> float:
        return settings.seed002_idle_timeout_s


@router.websocket("/ws")
async def eye_contact_ws(ws: WebSocket) -> None:
    """Seed 002's WebSocket (see module docstring)."""
    await run_tracking(ws, None, EyeContactWire(), "seed002", implicit=implicit_session(ws, "seed002 /ws"))
