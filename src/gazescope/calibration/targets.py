"""Calibration target layouts in normalised screen coordinates (``_norm``: 0..1, origin top-left).

Grids follow common practice for screen-based eye-tracker calibration (5- and 9-point layouts are the
defaults of Tobii and SR Research EyeLink; Holmqvist et al., "Eye Tracking: A comprehensive guide to methods
and measures", OUP 2011, ch. 4). Targets sit ``margin_norm`` (default 0.1) in from each edge, because
webcam trackers are least reliable in the screen corners and a dot at the very edge is hard to fixate.

Every layout also carries *validation* points that are never used to fit: they lie between the
calibration points (the centres of the grid cells), so the accuracy reported after a calibration is
measured where the mapper must interpolate (Holmqvist et al. 2011, "validation").

The smooth-pursuit path is a Lissajous figure (frequency ratio 3:2, as in Pfeuffer et al., "Pursuit
Calibration", UIST 2013, who used moving targets to calibrate while the user follows them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gazescope.errors import ValidationError

DEFAULT_MARGIN_NORM = 0.1
LAYOUT_NAMES: tuple[str, ...] = ("5", "9", "13", "16")
#: Every layout name a calibration may use: the grids and ``pursuit``.
ALL_LAYOUTS: tuple[str, ...] = (*LAYOUT_NAMES, "pursuit")
#: Every n-th point of a smooth-pursuit path is a validation point.
PURSUIT_VALIDATION_EVERY = 5
#: Default smooth-pursuit duration (ms) and point rate (Hz), those of :func:`pursuit_path`.
PURSUIT_DURATION_MS = 20_000.0
PURSUIT_RATE_HZ = 30.0


@dataclass(frozen=True, slots=True)
class TargetLayout:
    """A named set of calibration points and held-out validation points.

    ``points_norm``: calibration targets, each (x, y) in 0..1 from the top-left. ``validation_norm``:
    validation targets (never fitted). ``all_norm`` lists calibration then validation points; a target
    index used by :class:`~gazescope.calibration.session.CalibrationSession` is an index into it.
    """

    name: str
    points_norm: tuple[tuple[float, float], ...]
    validation_norm: tuple[tuple[float, float], ...]

    @property
    def all_norm(self) -> tuple[tuple[float, float], ...]:
        return self.points_norm + self.validation_norm

    def is_validation(self, index: int) -> bool:
        """True when ``all_norm[index]`` is a validation point."""
        return index >= len(self.points_norm)

    def to_px(self, screen_w_px: float, screen_h_px: float) -> list[tuple[float, float]]:
        """All targets (calibration then validation) in screen pixels."""
        return [(x * screen_w_px, y * screen_h_px) for x, y in self.all_norm]

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "points_norm": [list(p) for p in self.points_norm],
            "validation_norm": [list(p) for p in self.validation_norm],
        }


def _grid(n_x: int, n_y: int, margin: float) -> list[tuple[float, float]]:
    xs = [margin + i * (1 - 2 * margin) / (n_x - 1) for i in range(n_x)]
    ys = [margin + j * (1 - 2 * margin) / (n_y - 1) for j in range(n_y)]
    return [(x, y) for y in ys for x in xs]


def _cell_centres(n_x: int, n_y: int, margin: float) -> list[tuple[float, float]]:
    xs = [margin + (i + 0.5) * (1 - 2 * margin) / (n_x - 1) for i in range(n_x - 1)]
    ys = [margin + (j + 0.5) * (1 - 2 * margin) / (n_y - 1) for j in range(n_y - 1)]
    return [(x, y) for y in ys for x in xs]


def grid_layout(name: str = "9", margin_norm: float = DEFAULT_MARGIN_NORM) -> TargetLayout:
    """A grid layout by name.

    * ``"5"``: four corners of the margin box and the centre; validation at the midpoints of the four
      sides' inner halves (0.3/0.7 positions).
    * ``"9"`` (default): 3x3 grid; validation at the 4 cell centres.
    * ``"13"``: the 3x3 grid plus the 4 cell centres as calibration points; validation at 4 points halfway
      between the centre and the edge midpoints.
    * ``"16"``: 4x4 grid (as in the webcam_dots data set); validation at the centres of the 4 corner cells.

    Args:
        name: one of :data:`LAYOUT_NAMES`.
        margin_norm: distance of the outer targets from the screen edges, 0..0.45 of the screen size.

    Raises:
        ValidationError: unknown name or a margin outside 0..0.45.
    """
    if not 0.0 <= margin_norm <= 0.45:
        raise ValidationError(f"margin_norm must be within 0..0.45, got {margin_norm}")
    m = margin_norm
    c = 0.5
    if name == "5":
        pts = [(m, m), (1 - m, m), (c, c), (m, 1 - m), (1 - m, 1 - m)]
        q1, q3 = (m + c) / 2, (1 - m + c) / 2
        val = [(c, q1), (q1, c), (q3, c), (c, q3)]
    elif name == "9":
        pts = _grid(3, 3, m)
        val = _cell_centres(3, 3, m)
    elif name == "13":
        pts = _grid(3, 3, m) + _cell_centres(3, 3, m)
        val = [(c, (m + c) / 2), ((m + c) / 2, c), ((1 - m + c) / 2, c), (c, (1 - m + c) / 2)]
    elif name == "16":
        pts = _grid(4, 4, m)
        cells = _cell_centres(4, 4, m)
        val = [cells[i] for i in (0, 2, 6, 8)]
    else:
        raise ValidationError(f"unknown calibration layout {name!r}; available: {', '.join(LAYOUT_NAMES)}")
    r = lambda p: (round(p[0], 6), round(p[1], 6))  # noqa: E731
    return TargetLayout(name=name, points_norm=tuple(map(r, pts)), validation_norm=tuple(map(r, val)))


def pursuit_path(
    duration_ms: float = 20_000.0,
    rate_hz: float = 30.0,
    margin_norm: float = DEFAULT_MARGIN_NORM,
    freq_x_hz: float = 0.15,
    freq_y_hz: float = 0.10,
) -> list[tuple[float, float, float]]:
    """A smooth-pursuit target path: a Lissajous figure inside the margin box, sampled in time.

    ``x(t) = 0.5 + A sin(2 pi fx t)``, ``y(t) = 0.5 + A sin(2 pi fy t + pi/2)`` with ``A = 0.5 - margin``.
    Defaults (0.15 and 0.10 Hz, ratio 3:2) keep the target speed under ~10 degrees/s on a laptop screen,
    which smooth pursuit follows without catch-up saccades (Pfeuffer et al. 2013 used 5-10 deg/s).

    Returns:
        A list of ``(t_ms, x_norm, y_norm)`` at ``rate_hz``, from t = 0 to ``duration_ms`` inclusive.

    Raises:
        ValidationError: non-positive duration or rate, or a margin outside 0..0.45.
    """
    if duration_ms <= 0 or rate_hz <= 0:
        raise ValidationError("duration_ms and rate_hz must be positive")
    if not 0.0 <= margin_norm <= 0.45:
        raise ValidationError(f"margin_norm must be within 0..0.45, got {margin_norm}")
    a = 0.5 - margin_norm
    n = int(duration_ms / 1000.0 * rate_hz) + 1
    out = []
    for i in range(n):
        t_s = i / rate_hz
        x = 0.5 + a * math.sin(2 * math.pi * freq_x_hz * t_s)
        y = 0.5 + a * math.sin(2 * math.pi * freq_y_hz * t_s + math.pi / 2)
        out.append((t_s * 1000.0, x, y))
    return out


@dataclass(frozen=True, slots=True)
class PathPoint:
    """One point of a smooth-pursuit path: its ``index`` on the path, time ``t_ms`` from the start,
    position (0..1 from the top-left) and whether it is held out for validation."""

    index: int
    t_ms: float
    x_norm: float
    y_norm: float
    validation: bool


@dataclass(frozen=True, slots=True)
class PursuitLayout:
    """A smooth-pursuit path as a calibration layout.

    ``layout``: calibration points then validation points (every :data:`PURSUIT_VALIDATION_EVERY`-th path
    point, interleaved along the path so validation measures interpolation). ``to_layout[i]``: the
    layout index (into ``layout.all_norm``) of path point ``i``. ``points``: the path, in path order.
    """

    layout: TargetLayout
    to_layout: tuple[int, ...]
    points: tuple[PathPoint, ...]


def pursuit_layout(
    duration_ms: float = PURSUIT_DURATION_MS,
    rate_hz: float = PURSUIT_RATE_HZ,
    margin_norm: float = DEFAULT_MARGIN_NORM,
) -> PursuitLayout:
    """The :func:`pursuit_path` as a layout (Pfeuffer et al., UIST 2013); see :class:`PursuitLayout`.

    Raises:
        ValidationError: as :func:`pursuit_path`.
    """
    path = pursuit_path(duration_ms=duration_ms, rate_hz=rate_hz, margin_norm=margin_norm)
    every = PURSUIT_VALIDATION_EVERY
    val = [i for i in range(len(path)) if i % every == every - 1]
    cal = [i for i in range(len(path)) if i % every != every - 1]
    r = lambda i: (round(path[i][1], 6), round(path[i][2], 6))  # noqa: E731
    layout = TargetLayout("pursuit", tuple(map(r, cal)), tuple(map(r, val)))
    to_layout = [0] * len(path)
    for k, i in enumerate(cal + val):
        to_layout[i] = k
    val_set = set(val)
    points = tuple(
        PathPoint(i, round(t, 3), round(x, 6), round(y, 6), i in val_set) for i, (t, x, y) in enumerate(path)
    )
    return PursuitLayout(layout, tuple(to_layout), points)
