"""The attention figure: why each span got its attention state. Coloured bands of attention state,
activity (:mod:`gazescope.analytics.activity`) and eye contact on one time axis, above head yaw and gaze
angles (yaw, pitch, and the gaze's angle from the person's neutral, ``gaze_offset_deg``, with the
looking-away threshold; samples stored before that field show the angle off the camera axis), with the spans
called ``looking_away`` shaded behind the angles."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from gazescope.analytics.plots.timeline import STATE_COLOURS
from gazescope.analytics.samples import angle_arrays, frame_durations_ms, timed_samples
from gazescope.errors import ValidationError

ACTIVITY_COLOURS: dict[str, str] = {
    "reading": "#2f6bd6",
    "scanning": "#19a7bd",
    "idle": "#c2b23a",
    **STATE_COLOURS,
}
"""Colour of each activity band (the attention states other than focused keep their state colour)."""

EYE_CONTACT_COLOURS: dict[str, str] = {"eye contact": "#1b7f79", "no eye contact": "#d9dde3"}

_LANES = ("attention state", "activity", "eye contact")


def _runs(
    labels: Sequence[str | None], x: np.ndarray, dur_s: np.ndarray
) -> dict[str, list[tuple[float, float]]]:
    """(start, width) spans of each label's runs (consecutive samples with one label); None is skipped."""
    out: dict[str, list[tuple[float, float]]] = {}
    i, n = 0, len(labels)
    while i < n:
        j = i
        while j + 1 < n and labels[j + 1] == labels[i]:
            j += 1
        lab = labels[i]
        if lab is not None:
            out.setdefault(lab, []).append((float(x[i]), float(x[j] - x[i] + dur_s[j])))
        i = j + 1
    return out


def render_attention_png(
    samples: Sequence[Mapping[str, Any]],
    activities: Sequence[str] | None = None,
    *,
    fps_hint: float | None = None,
    looking_away_deg: float | None = None,
    width_px: int = 1200,
) -> bytes:
    """The attention figure as PNG bytes, ``width_px`` wide and 0.5 x as high.

    Args:
        samples: ``GazeSample.to_dict()`` dicts in time order (keys read: ``t_ms``, ``frame_index``,
            ``attention_state``, ``eye_contact``, ``face_detected``, ``yaw_deg``, ``gaze_yaw_deg``,
            ``gaze_pitch_deg``).
        activities: Optional; one activity label a sample
            (:func:`gazescope.analytics.activity.label_samples`); without it the activity lane is left
            empty.
        fps_hint: Optional frame rate (frames/s) for untimed samples (as
            :func:`gazescope.analytics.samples.timed_samples`).
        looking_away_deg: Optional; the angle from the person's neutral beyond which gaze counts toward
            looking away (deg, ``Settings.looking_away_deg``), drawn as a dashed line.
        width_px: Figure width in px, >= 400.

    Raises:
        gazescope.errors.ValidationError: ``width_px`` under 400, ``activities`` of another length than
            ``samples``, untimed samples without ``fps_hint``.
    """
    if width_px < 400:
        raise ValidationError(f"width_px must be >= 400, got {width_px}")
    if activities is not None and len(activities) != len(samples):
        raise ValidationError("activities must hold one label a sample")
    dpi = 100
    fig = Figure(figsize=(width_px / dpi, width_px * 0.5 / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax_b, ax_a = fig.subplots(2, 1, sharex=True, height_ratios=[1.0, 1.9])
    if not samples:
        ax_b.set_title("No samples")
        for ax in (ax_b, ax_a):
            ax.set_yticks([])
        return _png(fig)
    samples, t = timed_samples(samples, fps_hint)
    x = (t - t[0]) / 1000.0
    dur_s = frame_durations_ms(t, fps_hint) / 1000.0
    states = [str(s.get("attention_state") or "absent") for s in samples]
    contact: list[str | None] = [
        None
        if s.get("face_detected") is False
        else ("eye contact" if s.get("eye_contact") else "no eye contact")
        for s in samples
    ]

    # bands: one lane each, top to bottom
    legend: dict[str, str] = {}
    lanes: list[tuple[Sequence[str | None], Mapping[str, str]]] = [
        (states, STATE_COLOURS),
        (list(activities) if activities is not None else [None] * len(samples), ACTIVITY_COLOURS),
        (contact, EYE_CONTACT_COLOURS),
    ]
    for k, (labels, colours) in enumerate(lanes):
        y0 = len(_LANES) - 1 - k
        for lab, spans in _runs(labels, x, dur_s).items():
            c = colours.get(lab, "#cccccc")
            ax_b.broken_barh(spans, (y0 + 0.1, 0.8), color=c, lw=0)
            legend.setdefault(lab.replace("_", " "), c)
    ax_b.set_ylim(0, len(_LANES))
    ax_b.set_yticks([len(_LANES) - 1 - k + 0.5 for k in range(len(_LANES))], list(_LANES))
    ax_b.tick_params(axis="y", length=0)
    ax_b.legend(
        [Patch(color=c) for c in legend.values()], list(legend), loc="lower left", bbox_to_anchor=(0.0, 1.0),
        fontsize=8, ncols=min(len(legend), 9), frameon=False, borderaxespad=0.1, handlelength=1.2,
        columnspacing=1.0,
    )  # fmt: skip
    ax_b.set_title("Attention state, activity, eye contact", loc="right", fontsize=10)

    # angles, with the looking-away spans shaded
    for a, w in _runs(["away" if s == "looking_away" else None for s in states], x, dur_s).get("away", []):
        ax_a.axvspan(a, a + w, color=STATE_COLOURS["looking_away"], alpha=0.3, lw=0)
    ang = angle_arrays(samples)
    ax_a.plot(x, ang.head_yaw_deg, lw=1.0, color="#d62728", label="head yaw (+: subject's left)")
    ax_a.plot(x, ang.gaze_yaw_deg, lw=1.0, color="#1f5fbf", label="gaze yaw (+: subject's left)")
    ax_a.plot(x, ang.gaze_pitch_deg, lw=1.0, color="#17becf", label="gaze pitch (+: up)")
    judged = np.isfinite(ang.offset_deg).any()
    off = ang.offset_deg if judged else ang.off_axis_deg
    ax_a.plot(
        x, off, lw=1.6, color="black", label="gaze off the neutral" if judged else "gaze off camera axis"
    )
    ax_a.axhline(0.0, color="0.7", lw=0.8)
    handles, names = ax_a.get_legend_handles_labels()
    if looking_away_deg is not None:
        ax_a.axhline(looking_away_deg, color="black", lw=1.0, ls="--")
        handles.append(ax_a.get_lines()[-1])
        names.append(f"looking-away angle ({looking_away_deg:g}°)")
    handles.append(Patch(color=STATE_COLOURS["looking_away"], alpha=0.45))
    names.append("called looking away")
    ax_a.legend(handles, names, loc="upper left", fontsize=8, ncols=3, frameon=True, framealpha=0.85)
    finite = np.concatenate([v[np.isfinite(v)] for v in (ang.head_yaw_deg, ang.gaze_yaw_deg,
                                                          ang.gaze_pitch_deg, off)])  # fmt: skip
    lo = min(-10.0, float(finite.min()) if len(finite) else -10.0)
    hi = max(10.0, float(finite.max()) if len(finite) else 10.0, (looking_away_deg or 0.0) + 5.0)
    ax_a.set_ylim(lo - 5.0, hi + 0.35 * (hi - lo))  # room for the legend above the curves
    ax_a.set_ylabel("degrees")
    ax_a.set_xlabel("time (s)")
    ax_a.set_xlim(0, max(float(x[-1] + dur_s[-1]), 1e-3))
    ax_a.grid(True, color="0.92", lw=0.8)
    return _png(fig)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()
