"""The session timeline figure: eye aspect ratio with blinks (Soukupová & Čech 2016), gaze ratios, head
pose and the attention score over a band coloured by attention state, stacked on one time axis."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from gazescope.analytics.events import detect_blinks
from gazescope.analytics.samples import as_number, frame_durations_ms, timed_samples
from gazescope.errors import ValidationError

STATE_COLOURS: dict[str, str] = {
    "focused": "#2e9d57",
    "looking_away": "#f0a020",
    "eyes_closed": "#7a5cc4",
    "drowsy": "#d0443e",
    "absent": "#9a9a9a",
}


_LEGEND: dict[str, Any] = {
    "loc": "lower right", "bbox_to_anchor": (1.0, 1.0), "fontsize": 8, "ncols": 6, "frameon": False,
    "borderaxespad": 0.1, "handlelength": 1.5, "columnspacing": 1.2,
}  # fmt: skip


def _fig_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def render_timeline_png(
    samples: Sequence[Mapping[str, Any]], *, fps_hint: float | None = None, width_px: int = 1200
) -> bytes:
    """Four stacked time plots of a session as PNG bytes (``width_px`` wide, 900 px high at 1200):
    eye aspect ratio (left/right eye, blinks shaded), gaze ratios (horizontal 0 = subject's right ... 1 =
    left, vertical 0 = top ... 1 = bottom), head pose (yaw/pitch/roll, deg) and attention score (0-1) over a
    band coloured by attention state. x: seconds from the first sample. Missing values leave gaps.

    Raises :class:`gazescope.errors.ValidationError` for untimed samples without ``fps_hint`` and for
    ``width_px`` under 400.
    """
    if width_px < 400:
        raise ValidationError(f"width_px must be >= 400, got {width_px}")
    dpi = 100
    fig = Figure(figsize=(width_px / dpi, width_px * 0.75 / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(4, 1, sharex=True, height_ratios=[1.0, 1.0, 1.0, 1.1])
    if not samples:
        axes[0].set_title("No samples")
        for ax in axes:
            ax.set_yticks([])
        return _fig_png(fig)
    samples, t = timed_samples(samples, fps_hint)
    x = (t - t[0]) / 1000.0
    dur = frame_durations_ms(t, fps_hint)

    def col(key: str) -> np.ndarray:
        return np.array([as_number(s.get(key), strings=False) for s in samples])

    ax = axes[0]
    for b in detect_blinks(samples):
        ax.axvspan(
            (b.start_ms - t[0]) / 1000.0, (b.end_ms - t[0]) / 1000.0 + 0.02, color="#d0443e", alpha=0.25, lw=0
        )
    ax.plot(x, col("ear_left"), lw=1.0, color="#1f77b4", label="left eye")
    ax.plot(x, col("ear_right"), lw=1.0, color="#ff7f0e", label="right eye")
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Patch(color="#d0443e", alpha=0.25))
    labels.append("blink")
    ax.legend(handles, labels, **_LEGEND)
    ax.set_ylabel("EAR")
    ax.set_title("Eye aspect ratio (Soukupová & Čech 2016)", loc="left", fontsize=10)

    ax = axes[1]
    ax.plot(x, col("horizontal_ratio"), lw=1.0, color="#2ca02c", label="horizontal (0 right … 1 left)")
    ax.plot(x, col("vertical_ratio"), lw=1.0, color="#9467bd", label="vertical (0 top … 1 bottom)")
    ax.set_ylim(-0.02, 1.02)
    ax.axhline(0.5, color="0.7", lw=0.8, ls="--")
    ax.set_ylabel("ratio")
    ax.legend(**_LEGEND)
    ax.set_title("Gaze ratios (pupil position within the eye)", loc="left", fontsize=10)

    ax = axes[2]
    for key, c in (("yaw_deg", "#d62728"), ("pitch_deg", "#17becf"), ("roll_deg", "#8c564b")):
        ax.plot(x, col(key), lw=1.0, color=c, label=key.removesuffix("_deg"))
    ax.axhline(0.0, color="0.7", lw=0.8, ls="--")
    ax.set_ylabel("degrees")
    ax.legend(**_LEGEND)
    ax.set_title("Head pose", loc="left", fontsize=10)

    ax = axes[3]
    states = [str(s.get("attention_state") or "absent") for s in samples]
    seen = []
    for st in dict.fromkeys(states):
        spans = [(x[i], dur[i] / 1000.0) for i in range(len(states)) if states[i] == st]
        ax.broken_barh(spans, (0, 1.0), color=STATE_COLOURS.get(st, "#cccccc"), alpha=0.28, lw=0)
        seen.append(st)
    ax.plot(x, col("attention_score"), lw=1.4, color="black", label="attention score")
    ax.set_ylim(0, 1.0)
    ax.set_ylabel("score")
    ax.set_xlabel("time (s)")
    handles = [ax.get_lines()[0]] + [Patch(color=STATE_COLOURS.get(s, "#cccccc"), alpha=0.5) for s in seen]
    ax.legend(handles, ["attention score"] + [s.replace("_", " ") for s in seen], **_LEGEND)
    ax.set_title("Attention (band: state)", loc="left", fontsize=10)
    ax.set_xlim(0, max(float(x[-1] + dur[-1] / 1000.0), 1e-3))
    for a in axes:
        a.grid(True, color="0.92", lw=0.8)
    return _fig_png(fig)
