"""Eye-movement events of a stored session: fixations (I-DT default or I-VT, Salvucci & Goldberg 2000),
saccades and blinks, as JSON-able dicts or as CSV (:mod:`gazescope.analytics.events` does the detecting)."""

from __future__ import annotations

import math
from dataclasses import asdict, fields
from typing import Any, Literal

from gazescope.analytics.events import FixationMethod, detect_events
from gazescope.services.sessions import SessionData

EventKind = Literal["fixations", "saccades", "blinks"]
"""One kind of event (one CSV file each)."""


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def session_events(data: SessionData, method: FixationMethod = "idt") -> dict[str, Any]:
    """Fixations, saccades and blinks of a session (JSON-able; non-finite numbers as None):
    ``session_id``, ``method``, ``threshold_px`` (dispersion px for I-DT, velocity px/s for I-VT),
    ``threshold_deg``, ``min_duration_ms``, ``max_gap_ms``, ``fixations``, ``saccades``, ``blinks`` (with
    ``duration_ms``). Empty lists for a session without samples."""
    ev = detect_events(data.samples, method=method)
    return {
        "session_id": data.info.id,
        "method": ev.method,
        "threshold_px": ev.threshold_px,
        "threshold_deg": ev.threshold_deg,
        "min_duration_ms": ev.min_duration_ms,
        "max_gap_ms": ev.max_gap_ms,
        "fixations": [f.to_dict() for f in ev.fixations],
        "saccades": [{k: _clean(v) for k, v in s.to_dict().items()} for s in ev.saccades],
        "blinks": [
            {**{k: _clean(v) for k, v in asdict(b).items()}, "duration_ms": b.duration_ms} for b in ev.blinks
        ],
    }


def session_events_csv(data: SessionData, method: FixationMethod, kind: EventKind) -> str:
    """CSV of one kind of event of a session (:func:`gazescope.analytics.export.events_to_csv`); the
    header line alone when there are none."""
    from gazescope.analytics.events import Fixation, Saccade
    from gazescope.analytics.export import events_to_csv
    from gazescope.domain import BlinkEvent

    ev = detect_events(data.samples, method=method)
    items, cls = {
        "fixations": (ev.fixations, Fixation),
        "saccades": (ev.saccades, Saccade),
        "blinks": (ev.blinks, BlinkEvent),
    }[kind]
    return events_to_csv(list(items)) or ",".join(f.name for f in fields(cls)) + "\n"
