"""Wire formats of the tracking WebSockets: how client messages are read and how replies are written.

One tracking engine (:mod:`gazescope.api.tracking`) serves every tracking route; a :class:`WireFormat`
adapts it to a route's message format:

* :class:`NativeWire` (``/ws/sessions/{id}/track``): binary JPEG/PNG frames, or JSON text
  ``{"type": "frame", "data": <base64 or data URL>, "t_ms": <client time>}``; other JSON messages are
  dispatched by their ``type``. Every reply is a JSON object with a ``type``: ``session`` (on connect),
  ``sample`` (one per processed frame, the :class:`~gazescope.domain.GazeSample` fields plus
  ``client_t_ms``), ``error`` (``code``, ``message``), ``pong``, ``session_ended``.
* The seeds' wire formats live in :mod:`gazescope.api.seeds` (one module per seed).

A wire format object serves one connection, so it may keep per-connection state (e.g. seed 002's
eye-contact share since the connection opened).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gazescope.api.limits import BadClientNumber, TooManyItems, check_client_json
from gazescope.config import Settings

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
    #: Whether :meth:`sample` takes the frame's features (``features=``); they are kept only then.
    wants_features: ClassVar[bool] = False

    def parse_bytes(self, data: bytes) -> Inbound:
        """A binary message is always a frame (JPEG or PNG bytes)."""
        return Inbound("frame", payload=data)

    def parse_text(self, text: str) -> Inbound | None:
        """The message of a text frame; None for a message the format ignores (no reply)."""
        raise NotImplementedError

    def sample(self, sample: dict[str, Any], inbound: Inbound, epoch_ms: float) -> dict[str, Any]:
        """The reply to a processed frame: ``sample`` (as stored), the frame's message and the server's
        epoch ms when it arrived; formats with ``wants_features`` also get ``features=`` (the frame's
        :class:`~gazescope.domain.FrameFeatures`, e.g. for a face box)."""
        raise NotImplementedError

    def hello(self, message: dict[str, Any]) -> dict[str, Any]:
        """The ``session`` message sent on connect (formats with ``announces``)."""
        return message

    def pong(self, inbound: Inbound) -> dict[str, Any]:
        """The reply to ``{"type": "ping"}``."""
        return {"type": "pong", "t_ms": inbound.body.get("t_ms")}

    def dropped(self, inbound: Inbound, epoch_ms: float) -> dict[str, Any] | None:
        """The reply to a frame dropped unprocessed (pushed out by a newer one), or None for no reply."""
        return None

    def idle_timeout_s(self, settings: Settings) -> float:
        """Seconds without a frame after which the connection is closed (1001); other messages, pings
        included, do not reset the timer."""
        return settings.idle_timeout_s

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

    def parse_text(self, text: str) -> Inbound | None:
        return self.read(_loads_object(text))

    def read(self, msg: dict[str, Any]) -> Inbound:
        """The message of a parsed JSON object (``ProtocolError`` when it is not one of ours)."""
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
