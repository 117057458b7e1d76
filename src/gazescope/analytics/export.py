"""CSV exports of samples and events, and a gaze CSV that pymovements reads: the only CSV writer of samples
(``GET /api/sessions/{id}/samples.csv`` and ``gazescope analyze``'s ``samples.csv`` call it).

* Samples: the columns of :data:`gazescope.domain.SAMPLE_CSV_COLUMNS` (tuple fields split into ``_x``/``_y``
  columns by :func:`gazescope.domain.sample_to_row`); empty cell = None; booleans as ``True``/``False``,
  numbers as Python writes them (``str``), ``\n`` line ends.
  :func:`read_samples_csv` reads it back into ``GazeSample.to_dict()``-shaped dicts.
* Events: one row per :class:`~gazescope.analytics.events.Fixation`,
  :class:`~gazescope.analytics.events.Saccade` or :class:`~gazescope.domain.BlinkEvent`, columns = the
  dataclass fields in order.
* pymovements (Krakowczyk et al., "pymovements: A Python Package for Eye Movement Data Processing",
  ETRA 2023): :func:`pymovements_csv` writes ``time`` (ms), ``x_px``, ``y_px`` (screen pixels; empty
  where there is no valid gaze: no face, blink, off-screen, uncalibrated). Read it with::

      import pymovements as pm
      gaze = pm.gaze.from_csv(
          "gaze.csv", time_column="time", time_unit="ms", pixel_columns=["x_px", "y_px"],
          experiment=pm.Experiment(screen_width_px=1920, screen_height_px=1080, screen_width_cm=53.0,
                                   screen_height_cm=30.0, distance_cm=60.0, origin="upper left",
                                   sampling_rate=30.0),
      )
      gaze.pix2deg()  # degrees of visual angle, then gaze.pos2vel(), gaze.detect("idt") ...

  (tested with pymovements 0.28; ``experiment`` is optional for reading, needed for ``pix2deg``).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

from gazescope.analytics.samples import gaze_arrays
from gazescope.domain import SAMPLE_CSV_COLUMNS, sample_to_row
from gazescope.errors import ValidationError

_INT_COLUMNS = {"frame_index", "face_count", "blink_count", "dropped_frames"}
_STR_COLUMNS = {"direction", "attention_state", "stimulus_id", "calibration_fit", "source"}
_EXTRA_COLUMNS = {"stimulus_id", "video_t_s", "source"}  # absent from the dict when empty
_BOOL_COLUMNS = {"face_detected", "is_blinking", "eye_contact", "on_screen", "head_in_range"}
_PAIRS = (
    ("pupil_left_px", "pupil_left_x_px", "pupil_left_y_px"),
    ("pupil_right_px", "pupil_right_x_px", "pupil_right_y_px"),
    ("gaze_vector", "gaze_vector_x", "gaze_vector_y"),
)


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if not math.isfinite(v):
            return ""
        return repr(v)  # shortest exact round-trip form
    return v


def _write(header: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(header), lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(r.get(k)) for k in header})
    return buf.getvalue()


def rows_to_csv(header: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text of ``rows`` (dicts; missing keys and None are empty cells, booleans ``true``/``false``,
    floats in their shortest exact form) under ``header``, ``\n`` line ends."""
    return _write(header, rows)


def samples_to_csv(samples: Iterable[Mapping[str, Any]], *, header: bool = True) -> str:
    """CSV text of sample dicts (``GazeSample.to_dict()``) in :data:`SAMPLE_CSV_COLUMNS` order, header
    first unless ``header=False`` (a later chunk of a streamed export; format in the module docstring).
    Missing keys are empty cells. Raises :class:`gazescope.errors.ValidationError` for an item that is
    not a mapping."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(SAMPLE_CSV_COLUMNS), lineterminator="\n")
    if header:
        w.writeheader()
    for i, s in enumerate(samples):
        if not isinstance(s, Mapping):
            raise ValidationError(f"sample {i} is not an object")
        w.writerow(sample_to_row(dict(s)))
    return buf.getvalue()


def _parse(col: str, text: str) -> Any:
    if text == "":
        return None
    if col in _BOOL_COLUMNS:
        if text.lower() in ("true", "1"):
            return True
        if text.lower() in ("false", "0"):
            return False
        raise ValueError(f"not a boolean: {text!r}")
    if col in _STR_COLUMNS:
        return text
    if col in _INT_COLUMNS:
        return int(float(text))
    return float(text)


def read_samples_csv(text: str) -> list[dict[str, Any]]:
    """Parse CSV text written by :func:`samples_to_csv` back into sample dicts shaped like
    ``GazeSample.to_dict()`` (``_x``/``_y`` pairs become [x, y] lists or None; empty cells None). Unknown
    columns are ignored; missing columns are absent from the dicts.

    Raises :class:`gazescope.errors.ValidationError` naming the row and column of a bad cell, or when the
    header lacks ``t_ms``.
    """
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "t_ms" not in reader.fieldnames:
        raise ValidationError("samples CSV needs a header with at least t_ms")
    known = [c for c in reader.fieldnames if c in SAMPLE_CSV_COLUMNS]
    out = []
    for n, row in enumerate(reader, start=2):
        d: dict[str, Any] = {}
        for c in known:
            try:
                d[c] = _parse(c, row.get(c) or "")
            except ValueError as exc:
                raise ValidationError(f"samples CSV line {n}, column {c}: {exc}") from exc
            if d[c] is None and c in _EXTRA_COLUMNS:
                del d[c]  # only some samples have them (a video's, a landmarks message's)
        for name, xk, yk in _PAIRS:
            if xk in d or yk in d:
                x, y = d.pop(xk, None), d.pop(yk, None)
                d[name] = [x, y] if x is not None and y is not None else None
        out.append(d)
    return out


def events_to_csv(events: Sequence[Any]) -> str:
    """CSV text of frozen dataclass events (fixations, saccades or blinks; one kind per call), columns =
    the dataclass fields. An empty sequence gives an empty string. Raises
    :class:`gazescope.errors.ValidationError` for non-dataclass items or mixed kinds."""
    if not events:
        return ""
    kind = type(events[0])
    if not is_dataclass(kind) or any(type(e) is not kind for e in events):
        raise ValidationError("events_to_csv needs dataclass events of one kind")
    header = [f.name for f in fields(kind)]
    return _write(header, ({h: getattr(e, h) for h in header} for e in events))


def pymovements_csv(samples: Sequence[Mapping[str, Any]]) -> str:
    """Gaze CSV for pymovements: columns ``time`` (ms, the samples' ``t_ms``), ``x_px``, ``y_px`` (screen
    pixels; empty cells where the sample is not valid gaze, which pymovements reads as null). Read it as
    shown in the module docstring. Raises :class:`gazescope.errors.ValidationError` for samples without
    numeric ``t_ms`` or with decreasing timestamps."""
    ga = gaze_arrays(samples)
    rows = (
        {
            "time": float(ga.t_ms[i]),
            "x_px": float(ga.x_px[i]) if ga.valid[i] else None,
            "y_px": float(ga.y_px[i]) if ga.valid[i] else None,
        }
        for i in range(len(samples))
    )
    return _write(("time", "x_px", "y_px"), rows)
