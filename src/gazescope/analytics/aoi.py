"""Areas of interest (AOIs) and their metrics, per session and across sessions.

Coordinate space: an AOI is given in **stimulus pixels** (x right, y down, origin at the stimulus'
top-left corner). When the stimulus fills the screen at its own size (the usual case, and the case when no
stimulus size is given) stimulus pixels are screen pixels. When a stimulus of another size is stretched to
fill the screen, pass ``screen_size_px`` and ``stimulus_size_px`` and the gaze is scaled into stimulus
pixels (:func:`screen_to_stimulus`) before it is tested against the AOIs.

Metrics follow Holmqvist et al., *Eye Tracking: A Comprehensive Guide to Methods and Measures* (Oxford
2011), ch. 6 (AOI measures) and the Tobii Pro Lab metric definitions:

* time to first fixation (TTFF): start of the first fixation inside the AOI, ms from the session or
  stimulus start;
* first fixation duration: duration of that fixation;
* dwell time: sum of the durations of the fixations inside the AOI (fixation-based), and the
  sample-based dwell time: the time of the valid gaze samples inside the AOI (each sample counts for the
  interval to the next one, capped at ``max_gap_ms``);
* fixation count;
* visits and revisits: a visit is a maximal run of consecutive fixations inside the AOI; revisits are the
  visits after the first (``max(visits - 1, 0)``).

A fixation belongs to an AOI when its centroid is inside it. AOIs may overlap; each is measured on its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from matplotlib.path import Path as MplPath
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gazescope.analytics.events import Fixation
from gazescope.analytics.samples import DEFAULT_MAX_GAP_MS, gaze_arrays, sample_durations_ms
from gazescope.errors import ValidationError


class AOI(BaseModel):
    """One area of interest in stimulus pixels (see module docstring).

    ``name``: unique label (1-200 characters). ``kind``: "rect" or "polygon".
    For "rect": ``x_px``, ``y_px`` (top-left corner), ``w_px``, ``h_px`` (> 0); the rectangle includes its
    edges. For "polygon": ``points_px``, at least 3 (x, y) vertices in order (closed implicitly); inside is
    decided by :meth:`matplotlib.path.Path.contains_points` (even-odd edge rules; points exactly on an edge
    may fall either way).

    On a video stimulus an AOI may exist only from ``start_s`` to ``end_s`` (video seconds, either may be
    None for the video's start or end); see :mod:`gazescope.analytics.video`. Image stimuli ignore them.

    Build with :meth:`rect` / :meth:`polygon`, or from JSON (``AOI.model_validate(dict)``). Invalid shapes
    raise ``pydantic.ValidationError``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["rect", "polygon"] = "rect"
    x_px: float | None = None
    y_px: float | None = None
    w_px: float | None = Field(None, gt=0)
    h_px: float | None = Field(None, gt=0)
    points_px: tuple[tuple[float, float], ...] | None = None
    start_s: float | None = Field(None, ge=0, allow_inf_nan=False)
    end_s: float | None = Field(None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check(self) -> AOI:
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError("an AOI's end_s must be after its start_s")
        if self.kind == "rect":
            if None in (self.x_px, self.y_px, self.w_px, self.h_px):
                raise ValueError("a rect AOI needs x_px, y_px, w_px and h_px")
            if self.points_px is not None:
                raise ValueError("a rect AOI takes no points_px")
        else:
            if self.points_px is None or len(self.points_px) < 3:
                raise ValueError("a polygon AOI needs at least 3 points_px")
            if any(v is not None for v in (self.x_px, self.y_px, self.w_px, self.h_px)):
                raise ValueError("a polygon AOI takes only points_px")
        coords = [self.x_px, self.y_px, self.w_px, self.h_px]
        if self.points_px:
            coords += [c for p in self.points_px for c in p]
        if any(c is not None and not math.isfinite(c) for c in coords):
            raise ValueError("AOI coordinates must be finite numbers")
        return self

    @classmethod
    def rect(cls, name: str, x_px: float, y_px: float, w_px: float, h_px: float) -> AOI:
        """A rectangle with top-left ``(x_px, y_px)`` and size ``w_px`` x ``h_px``."""
        return cls(name=name, kind="rect", x_px=x_px, y_px=y_px, w_px=w_px, h_px=h_px)

    @classmethod
    def polygon(cls, name: str, points_px: Sequence[tuple[float, float]]) -> AOI:
        """A polygon with vertices ``points_px`` [(x, y), ...] in order."""
        return cls(name=name, kind="polygon", points_px=tuple((float(x), float(y)) for x, y in points_px))

    @property
    def bbox_px(self) -> tuple[float, float, float, float]:
        """(x_min, y_min, x_max, y_max)."""
        if self.kind == "rect":
            x, y, w, h = (float(v or 0.0) for v in (self.x_px, self.y_px, self.w_px, self.h_px))
            return (x, y, x + w, y + h)
        pts = np.asarray(self.points_px)
        (x0, y0), (x1, y1) = pts.min(axis=0).tolist(), pts.max(axis=0).tolist()
        return (x0, y0, x1, y1)

    @property
    def vertices_px(self) -> np.ndarray:
        """(K, 2) outline vertices (4 for a rectangle), for drawing."""
        if self.kind == "rect":
            x0, y0, x1, y1 = self.bbox_px
            return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)
        return np.asarray(self.points_px, dtype=float)

    @property
    def area_px2(self) -> float:
        """Area in square pixels (shoelace formula for polygons)."""
        v = self.vertices_px
        x, y = v[:, 0], v[:, 1]
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)

    def contains(self, x_px: np.ndarray | Sequence[float], y_px: np.ndarray | Sequence[float]) -> np.ndarray:
        """Boolean array (N,): which points (stimulus px; NaN is never inside) fall in the AOI."""
        x = np.asarray(x_px, dtype=float)
        y = np.asarray(y_px, dtype=float)
        finite = np.isfinite(x) & np.isfinite(y)
        if self.kind == "rect":
            x0, y0, x1, y1 = self.bbox_px
            with np.errstate(invalid="ignore"):
                return finite & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        inside = np.zeros(x.shape, dtype=bool)
        if finite.any():
            path = MplPath(np.asarray(self.points_px, dtype=float))
            inside[finite] = path.contains_points(np.column_stack([x[finite], y[finite]]))
        return inside


def parse_aois(aois: Sequence[AOI | Mapping[str, Any]] | None) -> list[AOI]:
    """AOIs from AOI objects or dicts (JSON); checks that names are unique.

    Raises :class:`gazescope.errors.ValidationError` naming the bad AOI (invalid shape or duplicate name).
    """
    out: list[AOI] = []
    for i, a in enumerate(aois or []):
        if isinstance(a, AOI):
            out.append(a)
            continue
        try:
            out.append(AOI.model_validate(dict(a)))
        except Exception as exc:  # pydantic.ValidationError or TypeError for a non-mapping
            raise ValidationError(f"AOI {i} is invalid: {exc}") from exc
    names = [a.name for a in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValidationError(f"AOI names must be unique; repeated: {sorted(dup)}")
    return out


def screen_to_stimulus(
    x_px: np.ndarray | float,
    y_px: np.ndarray | float,
    screen_size_px: tuple[float, float] | None,
    stimulus_size_px: tuple[float, float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scale screen pixels to stimulus pixels for a stimulus stretched over the whole screen:
    ``x * stim_w / screen_w``, ``y * stim_h / screen_h``. When either size is None the points are returned
    unchanged (stimulus px = screen px). Sizes are (width, height) > 0, else
    :class:`gazescope.errors.ValidationError`."""
    x = np.asarray(x_px, dtype=float)
    y = np.asarray(y_px, dtype=float)
    if screen_size_px is None or stimulus_size_px is None:
        return x, y
    sw, sh = screen_size_px
    tw, th = stimulus_size_px
    if min(sw, sh, tw, th) <= 0:
        raise ValidationError(
            f"screen and stimulus sizes must be positive, got {screen_size_px}, {stimulus_size_px}"
        )
    return x * (tw / sw), y * (th / sh)


@dataclass(frozen=True, slots=True)
class AOIMetrics:
    """Metrics of one AOI in one session (definitions in the module docstring).

    ``ttff_ms`` and ``first_fixation_ms`` are None when no fixation fell in the AOI; durations are ms >= 0.
    ``visits`` >= 0, ``revisits = max(visits - 1, 0)``. ``dwell_pct`` is the fixation dwell time as a
    percentage of the session's total fixation time (0 when there are no fixations).
    """

    name: str
    fixated: bool
    ttff_ms: float | None
    first_fixation_ms: float | None
    dwell_ms: float
    dwell_pct: float
    sample_dwell_ms: float
    fixation_count: int
    visits: int
    revisits: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def aoi_metrics(
    aois: Sequence[AOI | Mapping[str, Any]],
    fixations: Sequence[Fixation],
    *,
    samples: Sequence[Mapping[str, Any]] | None = None,
    start_ms: float | None = None,
    screen_size_px: tuple[float, float] | None = None,
    stimulus_size_px: tuple[float, float] | None = None,
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
) -> list[AOIMetrics]:
    """Per-AOI metrics of one session, in the order of ``aois``.

    ``fixations``: from :mod:`gazescope.analytics.events` on this session's samples (screen px).
    ``samples``: the same samples, for the sample-based dwell time (0 without them). ``start_ms``: the
    stimulus or session start on the ``t_ms`` clock that TTFF counts from; default the first sample's
    ``t_ms``, else the first fixation's start. Sizes: see :func:`screen_to_stimulus`.

    Raises :class:`gazescope.errors.ValidationError` for invalid AOIs.
    """
    parsed = parse_aois(aois)
    if start_ms is None:
        if samples:
            start_ms = float(samples[0]["t_ms"])
        elif fixations:
            start_ms = fixations[0].start_ms
        else:
            start_ms = 0.0
    fx, fy = screen_to_stimulus(
        np.array([f.x_px for f in fixations], dtype=float),
        np.array([f.y_px for f in fixations], dtype=float),
        screen_size_px,
        stimulus_size_px,
    )
    durations = np.array([f.duration_ms for f in fixations], dtype=float)
    total_fix = float(durations.sum())
    sx = sy = sdur = None
    if samples:
        ga = gaze_arrays(samples, max_gap_ms=max_gap_ms)
        sx, sy = screen_to_stimulus(ga.x_px, ga.y_px, screen_size_px, stimulus_size_px)
        sdur = np.where(ga.valid, sample_durations_ms(ga.t_ms, max_ms=max_gap_ms), 0.0)
    out = []
    for aoi in parsed:
        inside = aoi.contains(fx, fy)
        idx = np.flatnonzero(inside)
        visits = int(np.sum(inside & ~np.concatenate([[False], inside[:-1]]))) if len(inside) else 0
        dwell = float(durations[inside].sum()) if len(idx) else 0.0
        first = fixations[int(idx[0])] if len(idx) else None
        sample_dwell = 0.0
        if sx is not None and sy is not None and sdur is not None:
            sample_dwell = float(sdur[aoi.contains(sx, sy)].sum())
        out.append(
            AOIMetrics(
                name=aoi.name,
                fixated=first is not None,
                ttff_ms=(first.start_ms - start_ms) if first else None,
                first_fixation_ms=first.duration_ms if first else None,
                dwell_ms=dwell,
                dwell_pct=(100.0 * dwell / total_fix) if total_fix > 0 else 0.0,
                sample_dwell_ms=sample_dwell,
                fixation_count=len(idx),
                visits=visits,
                revisits=max(visits - 1, 0),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class AOIAggregate:
    """One AOI across sessions (viewers).

    ``n_sessions``: sessions measured; ``n_viewers``: sessions with at least one fixation in the AOI;
    ``viewers_pct = 100 * n_viewers / n_sessions`` (0 when there are no sessions).
    ``mean_dwell_ms``: mean fixation dwell over all sessions (0 for those that never looked);
    ``mean_dwell_viewers_ms``: over viewers only (None without viewers). ``mean_ttff_ms`` and
    ``mean_first_fixation_ms``: over viewers only (None without viewers). ``mean_fixation_count`` and
    ``mean_revisits``: over all sessions.
    """

    name: str
    n_sessions: int
    n_viewers: int
    viewers_pct: float
    mean_dwell_ms: float
    mean_dwell_viewers_ms: float | None
    mean_ttff_ms: float | None
    mean_first_fixation_ms: float | None
    mean_fixation_count: float
    mean_revisits: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def aggregate_aoi_metrics(per_session: Sequence[Sequence[AOIMetrics]]) -> list[AOIAggregate]:
    """Combine per-session AOI metrics (one list per session, as :func:`aoi_metrics` returns) into one
    :class:`AOIAggregate` per AOI name, in order of first appearance. A session lacking an AOI counts as
    not having looked at it. Returns [] for no sessions."""
    names: list[str] = []
    for sess in per_session:
        for m in sess:
            if m.name not in names:
                names.append(m.name)
    n = len(per_session)
    out = []
    for name in names:
        ms = [next((m for m in sess if m.name == name), None) for sess in per_session]
        viewers = [m for m in ms if m is not None and m.fixated]
        dwell_all = [m.dwell_ms if m else 0.0 for m in ms]
        out.append(
            AOIAggregate(
                name=name,
                n_sessions=n,
                n_viewers=len(viewers),
                viewers_pct=100.0 * len(viewers) / n if n else 0.0,
                mean_dwell_ms=float(np.mean(dwell_all)) if n else 0.0,
                mean_dwell_viewers_ms=float(np.mean([m.dwell_ms for m in viewers])) if viewers else None,
                mean_ttff_ms=float(np.mean([m.ttff_ms for m in viewers if m.ttff_ms is not None]))
                if viewers
                else None,
                mean_first_fixation_ms=(
                    float(np.mean([m.first_fixation_ms for m in viewers if m.first_fixation_ms is not None]))
                    if viewers
                    else None
                ),
                mean_fixation_count=float(np.mean([m.fixation_count if m else 0 for m in ms])) if n else 0.0,
                mean_revisits=float(np.mean([m.revisits if m else 0 for m in ms])) if n else 0.0,
            )
        )
    return out
