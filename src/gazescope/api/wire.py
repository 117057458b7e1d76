"""Wire formats of the tracking WebSockets: how client messages are read and how replies are written.

One tracking engine (:mod:`gazescope.api.tracking`) serves every tracking route; a :class:`WireFormat`
adapts it to a route's message format:

* :class:`NativeWire` (``/ws/sessions/{id}/track`` and seed 000's ``/ws/session/{id}/track``): binary
  JPEG/PNG frames, or JSON text ``{"type": "frame", "data": <base64 or data URL>, "t_ms": <client time>}``;
  other JSON messages are dispatched by their ``type``. Every reply is a JSON object with a ``type``:
  ``session`` (on connect), ``sample`` (one per processed frame, the :class:`~gazescope.domain.GazeSample`
  fields plus ``client_t_ms``), ``error`` (``code``, ``message``), ``pong``, ``session_ended``.
* :class:`GazeServiceWire` (seed 001's ``/ws/gaze``): frames as base64 text, data URLs, or JSON with a
  ``frame``/``image``/``data`` key; replies in the ``PythonGazeData`` format of that seed's README.
* :class:`EyeContactWire` (seed 002's ``/ws``): ``{"type": "frame", "data": "data:image/jpeg;base64,..."}``;
  replies ``{t, earLeft, earRight, blink, eyeContact, eyeContactPct, gazeVector, conf}``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gazescope.api.limits import BadClientNumber, TooManyItems, check_client_json
from gazescope.domain import Direction

MAX_MESSAGE_VALUES = 10_000
"""Most JSON values in one WebSocket text message (a frame message has 2-4; the largest calibration
message, ``calibration_start`` with ``mapper_params``, a few dozen); more is a ``bad_message``, found
without walking the rest of the message."""


class ProtocolError(Exception):
    """A client message that cannot be read; ``code`` goes into the error reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Inbound:
    """One client message: its ``type``, and for frames the encoded ``payload`` (bytes, base64 text or a
    data URL; decoded later in a worker thread) and the client's timestamp ``client_t_ms`` (any clock)."""

    type: str
    payload: bytes | str | None = None
    client_t_ms: float | None = None
    body: dict[str, Any] = field(default_factory=dict)


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    try:
        return float(v) if math.isfinite(v) else None
    except OverflowError:  # an int too large for a float (the edge check refuses these before)
        return None


def _loads_object(text: str) -> dict[str, Any]:
    try:
        msg = json.loads(text)
    except ValueError:
        raise ProtocolError("bad_message", "text messages must be JSON objects") from None
    except RecursionError:  # e.g. "[" * 100000: nesting deeper than the parser's recursion limit
        raise ProtocolError("bad_message", "text message nested too deeply") from None
    if not isinstance(msg, dict):
        raise ProtocolError("bad_message", "text messages must be JSON objects, not " + type(msg).__name__)
    try:  # every number from the client is range-checked here, once (gazescope.api.limits)
        check_client_json(msg, max_items=MAX_MESSAGE_VALUES)
    except (BadClientNumber, TooManyItems) as exc:
        raise ProtocolError("bad_message", str(exc)) from None
    return msg


class WireFormat:
    """Base wire format (the native one's reading of binary frames)."""

    name: ClassVar[str] = "native"
    #: Whether connections of this format announce their session on connect and its end.
    announces: ClassVar[bool] = True

    def parse_bytes(self, data: bytes) -> Inbound:
        """A binary message is always a frame (JPEG or PNG bytes)."""
        return Inbound("frame", payload=data)

    def parse_text(self, text: str) -> Inbound:
        raise NotImplementedError

    def sample(self, sample: dict[str, Any], inbound: Inbound, epoch_ms: float) -> dict[str, Any]:
        raise NotImplementedError

    def error(self, code: str, message: str, inbound: Inbound | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if inbound is not None and inbound.client_t_ms is not None:
            out["client_t_ms"] = inbound.client_t_ms
        return out


class NativeWire(WireFormat):
    """gazescope's own tracking protocol (see module docstring)."""

    name = "native"
    type_hint: ClassVar[str] = "a message needs a string 'type' (e.g. 'frame')"
    data_hint: ClassVar[str] = "a frame message needs 'data': base64 JPEG/PNG or a data URL"
    time_keys: ClassVar[tuple[str, ...]] = ("t_ms",)  # the client's capture time, first one present wins

    def parse_text(self, text: str) -> Inbound:
        msg = _loads_object(text)
        mtype = msg.get("type")
        if not isinstance(mtype, str) or not mtype:
            raise ProtocolError("bad_message", self.type_hint)
        if mtype != "frame":
            return Inbound(mtype, body=msg)
        data = msg.get("data")
        if not isinstance(data, str) or not data:
            raise ProtocolError("bad_message", self.data_hint)
        times = (_number(msg.get(k)) for k in self.time_keys)
        return Inbound("frame", payload=data, client_t_ms=next((t for t in times if t is not None), None))

    def sample(self, sample: dict[str, Any], inbound: Inbound, epoch_ms: float) -> dict[str, Any]:
        return {"type": "sample", **sample, "client_t_ms": inbound.client_t_ms}


class GazeServiceWire(WireFormat):
    """Seed 001's ``/ws/gaze``: base64 frames in, ``PythonGazeData`` out.

    ``timestamp`` is the server's epoch time in milliseconds when the frame arrived (JavaScript
    ``Date.now()`` units). ``pupil_left``/``pupil_right`` are frame pixels; ``is_left``/``is_right``/
    ``is_center`` follow GazeTracking (horizontal_ratio <= 0.35 right, >= 0.65 left, between centre; all
    false when the pupils are not found or the eyes are closed). A bad frame is answered with
    ``frame_processed: false`` and ``error``/``message``.
    """

    name = "seed001"
    announces = False
    FRAME_KEYS: ClassVar[tuple[str, ...]] = ("frame", "image", "data")

    def parse_text(self, text: str) -> Inbound:
        stripped = text.lstrip()
        if not stripped.startswith("{"):
            return Inbound("frame", payload=stripped)  # raw base64 or data URL
        msg = _loads_object(stripped)
        mtype = msg.get("type")
        if isinstance(mtype, str) and mtype and mtype != "frame":
            return Inbound(mtype, body=msg)
        for key in self.FRAME_KEYS:
            data = msg.get(key)
            if isinstance(data, str) and data:
                t = _number(msg.get("timestamp"))
                return Inbound(
                    "frame", payload=data, client_t_ms=t if t is not None else _number(msg.get("t_ms"))
                )
        raise ProtocolError("bad_message", "send a base64 frame, a data URL, or JSON with a 'frame' key")

    @staticmethod
    def empty(epoch_ms: float) -> dict[str, Any]:
        return {
            "timestamp": epoch_ms,
            "pupil_left": None,
            "pupil_right": None,
            "horizontal_ratio": None,
            "vertical_ratio": None,
            "is_left": False,
            "is_right": False,
            "is_center": False,
            "is_blinking": False,
            "attention_score": 0.0,
            "frame_processed": False,
        }

    def sample(self, sample: dict[str, Any], inbound: Inbound, epoch_ms: float) -> dict[str, Any]:
        out = self.empty(epoch_ms)
        blinking = bool(sample.get("is_blinking"))
        direction = sample.get("direction") if not blinking else None
        out.update(
            pupil_left=sample.get("pupil_left_px"),
            pupil_right=sample.get("pupil_right_px"),
            horizontal_ratio=sample.get("horizontal_ratio"),
            vertical_ratio=sample.get("vertical_ratio"),
            is_left=direction == Direction.LEFT.value,
            is_right=direction == Direction.RIGHT.value,
            is_center=direction == Direction.CENTER.value,
            is_blinking=blinking,
            attention_score=float(sample.get("attention_score") or 0.0),
            frame_processed=True,
        )
        return out

    def error(self, code: str, message: str, inbound: Inbound | None = None) -> dict[str, Any]:
        out = self.empty(time.time() * 1000.0)
        out.update(error=code, message=message)
        return out


class EyeContactWire(NativeWire):
    """Seed 002's ``/ws``: ``{"type": "frame", "data": <data URL>}`` in, eye-contact metrics out.

    ``t``: server epoch milliseconds (integer) when the frame arrived; ``earLeft``/``earRight``: eye
    aspect ratio of the subject's left/right eye (0.0 when no face); ``blink``: eyes closed in a blink;
    ``eyeContact``: gaze within ``Settings.eye_contact_cone_deg`` of the camera; ``eyeContactPct``: rolling
    eye-contact share as a fraction 0..1 (over ``Settings.eye_contact_window_s``); ``gazeVector``: [x, y]
    in -1..1 ([0, 0] when unknown); ``conf``: 0..1. Errors: ``{"type": "error", "code", "message"}``.
    """

    name = "seed002"
    announces = False
    type_hint = 'send {"type": "frame", "data": "data:image/jpeg;base64,..."}'
    data_hint = "a frame message needs 'data': a data URL or base64 JPEG"
    time_keys = ("t", "t_ms")

    def sample(self, sample: dict[str, Any], inbound: Inbound, epoch_ms: float) -> dict[str, Any]:
        gv = sample.get("gaze_vector") or [0.0, 0.0]
        return {
            "t": int(epoch_ms),
            "earLeft": round(float(sample.get("ear_left") or 0.0), 4),
            "earRight": round(float(sample.get("ear_right") or 0.0), 4),
            "blink": bool(sample.get("is_blinking")),
            "eyeContact": bool(sample.get("eye_contact")),
            "eyeContactPct": round(float(sample.get("eye_contact_pct") or 0.0) / 100.0, 4),
            "gazeVector": [round(float(gv[0]), 4), round(float(gv[1]), 4)],
            "conf": round(float(sample.get("confidence") or 0.0), 4),
        }
