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
from typing import Annotated, Any, Literal

import numpy as np
from matplotlib.path import Path as MplPath
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, model_validator
from pydantic import ValidationError as PydanticValidationError

from gazescope.analytics.events import Fixation
from gazescope.analytics.samples import DEFAULT_MAX_GAP_MS, GazeArrays, gaze_arrays, sample_durations_ms
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


# --- the typed wire schema: what clients send and the API documents ----------------------------------

MAX_AOI_POINTS = 1000
"""Most vertices of one polygon AOI."""

_Coord = Annotated[float, Field(allow_inf_nan=False)]


class _AOIBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Unique label of the AOI on its stimulus.")
    start_s: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="Video stimuli: when the AOI appears (video s)."
    )
    end_s: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Video stimuli: when it disappears (video s, > start_s)."
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        # a full dump of the flat AOI (other kind's fields as null) stays accepted
        if isinstance(data, Mapping):
            return {k: v for k, v in data.items() if v is not None or k in cls.model_fields}
        return data

    @model_validator(mode="after")
    def _check_range(self) -> _AOIBase:
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError("end_s must be after start_s")
        return self

    def to_aoi(self) -> AOI:
        """The :class:`AOI` the analyses use."""
        return AOI.model_validate(self.model_dump(exclude_none=True))


class RectAOI(_AOIBase):
    """A rectangle AOI in stimulus pixels: top-left ``(x_px, y_px)``, size ``w_px`` x ``h_px`` (> 0),
    edges included. ``kind`` may be left out (rectangles are the default)."""

    kind: Literal["rect"] = "rect"
    x_px: _Coord = Field(description="Left edge (stimulus px).")
    y_px: _Coord = Field(description="Top edge (stimulus px).")
    w_px: _Coord = Field(gt=0, description="Width (stimulus px, > 0).")
    h_px: _Coord = Field(gt=0, description="Height (stimulus px, > 0).")


class PolygonAOI(_AOIBase):
    """A polygon AOI: ``points_px``, 3 or more ``[x, y]`` vertices in stimulus pixels, in order (closed
    implicitly)."""

    kind: Literal["polygon"]
    points_px: list[tuple[_Coord, _Coord]] = Field(
        min_length=3, max_length=MAX_AOI_POINTS, description="Vertices [[x, y], ...] in stimulus px."
    )


def _aoi_kind(v: Any) -> str:
    kind = v.get("kind", "rect") if isinstance(v, Mapping) else getattr(v, "kind", "rect")
    return kind if isinstance(kind, str) else "?"


AOIShape = Annotated[
    Annotated[RectAOI, Tag("rect")] | Annotated[PolygonAOI, Tag("polygon")],
    Discriminator(
        _aoi_kind, custom_error_type="aoi_kind", custom_error_message="kind must be 'rect' or 'polygon'"
    ),
]
"""One AOI as clients send it: a :class:`RectAOI` or a :class:`PolygonAOI`, told apart by ``kind``."""

MAX_ERROR_CLAUSES = 6
"""Most field errors one AOI error message lists."""

_FIELDS_OF = {
    "rect": "name, kind, x_px, y_px, w_px, h_px, start_s, end_s",
    "polygon": "name, kind, points_px, start_s, end_s",
}


def _aoi_at(aois: Any, idx: int) -> Mapping[str, Any] | None:
    if isinstance(aois, Sequence) and 0 <= idx < len(aois) and isinstance(aois[idx], Mapping):
        return aois[idx]
    return None


def _error_clause(e: Mapping[str, Any], fields_of: Sequence[Any], submitted: Mapping[str, Any] | None) -> str:
    msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
    if e.get("type") == "extra_forbidden":
        kind = str((submitted or {}).get("kind", "rect"))
        takes = _FIELDS_OF.get(kind, _FIELDS_OF["rect"])
        msg = f"extra field not allowed (a {kind} AOI takes {takes})"
    elif e.get("type") == "missing":
        msg = "required"
    where = ".".join(str(x) for x in fields_of if x not in ("rect", "polygon"))
    return f"{where}: {msg}" if where else msg


def aoi_error_text(errors: Sequence[Mapping[str, Any]], aois: Any = None, *, loc_prefix: int = 0) -> str:
    """Readable text of pydantic errors on an AOI list, one sentence per AOI naming its index, name and
    fields: ``AOI 2 is invalid (name 'logo'): w_px: Input should be greater than 0; h_px: required``
    (at most :data:`MAX_ERROR_CLAUSES` clauses). ``loc_prefix``: how many leading ``loc`` items precede the
    AOI index (e.g. 2 for ``("body", "aois", 0, ...)``); ``aois``: the submitted list, to name the AOI."""
    by_aoi: dict[int | None, list[str]] = {}
    for e in list(errors)[:MAX_ERROR_CLAUSES]:
        loc = list(e.get("loc") or ())[loc_prefix:]
        idx = loc[0] if loc and isinstance(loc[0], int) else None
        rest = loc[1:] if idx is not None else loc
        submitted = _aoi_at(aois, idx) if idx is not None else None
        by_aoi.setdefault(idx, []).append(_error_clause(e, rest, submitted))
    out = []
    for idx, clauses in by_aoi.items():
        if idx is None:
            out.append("aois: " + "; ".join(clauses))
            continue
        name = (_aoi_at(aois, idx) or {}).get("name")
        who = f"AOI {idx} is invalid" + (f" (name {name!r})" if isinstance(name, str) else "")
        out.append(f"{who}: " + "; ".join(clauses))
    more = len(errors) - MAX_ERROR_CLAUSES
    return ". ".join(out) + (f" (and {more} more)" if more > 0 else "")


_AOI_ADAPTER: TypeAdapter[RectAOI | PolygonAOI] = TypeAdapter(AOIShape)


def parse_aois(aois: Sequence[AOI | RectAOI | PolygonAOI | Mapping[str, Any]] | None) -> list[AOI]:
    """AOIs from AOI objects or dicts (JSON, the :data:`AOIShape` schema); checks that names are unique.

    Raises :class:`gazescope.errors.ValidationError` naming the bad AOI and field (invalid shape or
    duplicate name), e.g. ``AOI 0 is invalid (name 'a'): w_px: Input should be greater than 0``.
    """
    out: list[AOI] = []
    for i, a in enumerate(aois or []):
        if isinstance(a, AOI):
            out.append(a)
            continue
        if isinstance(a, RectAOI | PolygonAOI):
            out.append(a.to_aoi())
            continue
        if not isinstance(a, Mapping):
            raise ValidationError(f"AOI {i} is invalid: expected an object, got {type(a).__name__}")
        try:
            out.append(_AOI_ADAPTER.validate_python(dict(a)).to_aoi())
        except PydanticValidationError as exc:
            errs = [{**e, "loc": (i, *e["loc"])} for e in exc.errors()]
            raise ValidationError(aoi_error_text(errs, list(aois or []))) from None
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
    gaze: GazeArrays | None = None,
) -> list[AOIMetrics]:
    """Per-AOI metrics of one session, in the order of ``aois``.

    ``fixations``: from :mod:`gazescope.analytics.events` on this session's samples (screen px).
    ``samples``: the same samples, for the sample-based dwell time (0 without them); ``gaze``: their
    arrays instead (:class:`~gazescope.analytics.samples.GazeArrays`, e.g. ``session_arrays(...).gaze``).
    ``max_gap_ms``: the longest pause (ms) within a segment, and the most time one sample adds to a dwell.
    ``start_ms``: the stimulus or session start on the ``t_ms`` clock that TTFF counts from; default the first sample's
    ``t_ms``, else the first fixation's start. Sizes: see :func:`screen_to_stimulus`.

    Raises :class:`gazescope.errors.ValidationError` for invalid AOIs.
    """
    parsed = parse_aois(aois)
    if gaze is None and samples:
        gaze = gaze_arrays(samples, max_gap_ms=max_gap_ms)
    if gaze is not None and not len(gaze.t_ms):
        gaze = None
    if start_ms is None:
        if gaze is not None:
            start_ms = float(gaze.t_ms[0])
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
    if gaze is not None:
        sx, sy = screen_to_stimulus(gaze.x_px, gaze.y_px, screen_size_px, stimulus_size_px)
        sdur = np.where(gaze.valid, sample_durations_ms(gaze.t_ms, max_ms=max_gap_ms), 0.0)
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


NO_GAZE_REASON = (
    "no calibrated screen gaze (no sample has a screen point): such a session cannot tell whether its "
    "viewer looked at an AOI, so it is left out of the AOI figures"
)
"""Why an aggregate leaves a session out of its AOI figures."""


@dataclass(frozen=True, slots=True)
class AOIAggregate:
    """One AOI across sessions (viewers).

    ``n_sessions``: sessions measured, i.e. with screen gaze (a session without any calibrated screen
    point cannot tell whether its viewer looked, so it is left out of every figure and counted in
    ``n_sessions_without_gaze``); ``n_viewers``: sessions with at least one fixation in the AOI;
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
    n_sessions_without_gaze: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def aggregate_aoi_metrics(
    per_session: Sequence[Sequence[AOIMetrics] | None], names: Sequence[str] = ()
) -> list[AOIAggregate]:
    """Combine per-session AOI metrics (one list per session, as :func:`aoi_metrics` returns) into one
    :class:`AOIAggregate` per AOI name: ``names`` first, then any other in order of first appearance.
    ``None`` stands for a session without screen gaze: it is left out (counted in
    ``n_sessions_without_gaze``). A measured session lacking an AOI counts as not having looked at it.
    Returns [] for no sessions and no names."""
    names = list(names)
    measured = [sess for sess in per_session if sess is not None]
    without = len(per_session) - len(measured)
    for sess in measured:
        for m in sess:
            if m.name not in names:
                names.append(m.name)
    n = len(measured)
    out = []
    for name in names:
        ms = [next((m for m in sess if m.name == name), None) for sess in measured]
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
                n_sessions_without_gaze=without,
            )
        )
    return out
