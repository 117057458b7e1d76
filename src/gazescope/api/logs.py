"""Structured logs of the service: one ``key=value`` line per event.

Every service log line reads ``ts=... level=... logger=... event=<name> key=value ...`` (values with
spaces or quotes are JSON-quoted), so that it is both readable and machine-parseable (the logfmt
convention, https://brandur.org/logfmt). Frames, sample payloads and the API token are never passed to
these functions; error messages of :mod:`gazescope.vision.frames` never contain image data.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

LOGGER_NAME = "gazescope.api"
log = logging.getLogger(LOGGER_NAME)

_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def _fmt_value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.4g}"
    s = str(v)
    if not s or any(c in s for c in ' "=\n\t'):
        return json.dumps(s)
    return s


class KeyValueFormatter(logging.Formatter):
    """``ts=<ISO time> level=<level> logger=<name> event=<message> k=v ...`` (logfmt)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        parts = [
            f"ts={ts}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"event={_fmt_value(record.getMessage())}",
        ]
        for k, v in record.__dict__.items():
            if k not in _RESERVED and not k.startswith("_"):
                parts.append(f"{k}={_fmt_value(v)}")
        if record.exc_info:
            parts.append(f"exc={_fmt_value(self.formatException(record.exc_info))}")
        return " ".join(parts)


_TOKEN_RE = re.compile(r"((?:^|[?&\s])token=)[^&\s\"']+")


def redact(text: str) -> str:
    """``text`` with the value of every ``token=`` query parameter replaced by ``***``."""
    return _TOKEN_RE.sub(r"\1***", text) if "token=" in text else text


class RedactTokenFilter(logging.Filter):
    """Replace the value of ``token=`` query parameters in log records by ``***`` (uvicorn logs the
    path and query string of every request and WebSocket it accepts).

    The message template and each string argument are redacted in place, so the record keeps its shape:
    uvicorn's access formatter unpacks ``record.args`` as a 5-tuple (client, method, path, version,
    status), and flattening the record into one string broke it ("Logging error" on every request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if isinstance(record.msg, str):
                record.msg = redact(record.msg)
            args = record.args
            if isinstance(args, tuple):
                record.args = tuple(_redact_arg(a) for a in args)
            elif isinstance(args, dict):
                record.args = {k: _redact_arg(v) for k, v in args.items()}
        except Exception:  # a filter must never stop a record
            return True
        return True


def _redact_arg(a: object) -> object:
    if isinstance(a, str):
        return redact(a)
    if isinstance(a, int | float | bytes | type(None)):
        return a
    text = str(a)
    return redact(text) if "token=" in text else a


def configure_logging(level: str = "info") -> None:
    """Give the ``gazescope`` logger a stderr handler with :class:`KeyValueFormatter` (once), and make
    uvicorn's loggers redact ``token=`` query values."""
    for name in ("uvicorn.error", "uvicorn.access", "uvicorn"):
        lg = logging.getLogger(name)
        if not any(isinstance(f, RedactTokenFilter) for f in lg.filters):
            lg.addFilter(RedactTokenFilter())
    root = logging.getLogger("gazescope")
    root.setLevel(level.upper())
    if not any(getattr(h, "_gazescope", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(KeyValueFormatter())
        handler._gazescope = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.propagate = False


def event(name: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log event ``name`` with ``fields`` as key=value pairs (never pass frame data or secrets)."""
    log.log(level, name, extra={k: v for k, v in fields.items() if k not in _RESERVED})
