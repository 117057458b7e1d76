"""A person's calibration history: sittings pooled into one growing profile, refitted online on clicks.

A *sitting* is one calibration: one aggregate feature row per calibration target
(:func:`~gazescope.calibration.features.aggregate`) and the target's screen point. A profile keeps its
user's last ``max_sittings`` sittings made on the same screen size; a new calibration is fitted on all of
them pooled, the newest sitting weighted ``newest_weight`` and the earlier ones 1
(:func:`pooled_calibration`). During use, each click at a known screen point adds a row weighted
``click_weight`` and refits (:class:`OnlineRefit`; Papoutsaki et al., "WebGazer: Scalable Webcam Eye
Tracking Using User Interactions", IJCAI 2016, learn from every click).

Measured on webcam_dots (``gazescope evaluate gaze --protocol profile|online``; issue 14): one sitting
alone scores 356 px on the person's other sittings, the pooled profile 328 px (newest weight 1 to 3 gives
328.3-328.7 px, 10 gives 332 px); refitting on each click of a new sitting, its clicks weighted 3, scores
322 px against 325 px for the earlier sittings alone (``--protocol pooled``). Only mappers that take
``sample_weight`` (ridge) pool; an appearance mapper keeps the sitting alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gazescope.calibration.features import N_FEATURES, GazeFeatures
from gazescope.calibration.mappers import Mapper, create_mapper
from gazescope.errors import CalibrationError, NotEnoughDataError, ValidationError

MAX_SITTING_ROWS = 400
"""Most fit rows a sitting keeps (evenly spaced when a smooth pursuit gives more), bounding a profile of
``max_sittings`` sittings to a few hundred kB of JSON and each pooled fit's cost; 400 is the service's
limit of custom targets per calibration."""
MAX_LOO_TARGETS = 40
"""Most targets of the new sitting scored by :func:`loo_error_px` (evenly spaced): one refit each."""


def _even(n: int, k: int) -> np.ndarray:
    """Indices of at most ``k`` of ``n`` items, evenly spaced, first and last included."""
    return np.arange(n) if n <= k else np.unique(np.linspace(0, n - 1, k).round().astype(int))


@dataclass(frozen=True, slots=True, eq=False)
class Sitting:
    """One calibration's fit rows: ``rows`` (n, N_FEATURES) feature vectors, ``targets_px`` (n, 2) screen
    points in px of a ``screen_w_px`` x ``screen_h_px`` screen, made at ``created_at_ms`` (Unix ms).
    At most :data:`MAX_SITTING_ROWS` rows are stored (see :meth:`bounded`)."""

    created_at_ms: float
    rows: np.ndarray
    targets_px: np.ndarray
    screen_w_px: int
    screen_h_px: int

    def bounded(self) -> Sitting:
        """This sitting with at most :data:`MAX_SITTING_ROWS` rows (evenly spaced)."""
        keep = _even(len(self.rows), MAX_SITTING_ROWS)
        return replace(self, rows=self.rows[keep], targets_px=self.targets_px[keep])

    def to_dict(self) -> dict[str, Any]:
        return {
            "created_at_ms": float(self.created_at_ms),
            "rows": np.round(self.rows, 6).tolist(),
            "targets_px": np.round(self.targets_px, 2).tolist(),
            "screen_w_px": int(self.screen_w_px),
            "screen_h_px": int(self.screen_h_px),
        }

    @classmethod
    def from_dict(cls, d: Any) -> Sitting:
        """Inverse of :meth:`to_dict`.

        Raises:
            CalibrationError: missing fields, or rows/targets that are not finite (n, N_FEATURES)/(n, 2).
        """
        try:
            rows = np.asarray(d["rows"], dtype=np.float64)
            tg = np.asarray(d["targets_px"], dtype=np.float64)
            s = cls(float(d["created_at_ms"]), rows, tg, int(d["screen_w_px"]), int(d["screen_h_px"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"malformed calibration sitting: {exc}") from exc
        n = len(rows)
        if rows.shape != (n, N_FEATURES) or tg.shape != (n, 2) or not 0 < n <= MAX_SITTING_ROWS:
            raise CalibrationError(
                f"a sitting needs (n, {N_FEATURES}) rows and (n, 2) targets, n within 1..{MAX_SITTING_ROWS}"
            )
        if not (np.all(np.isfinite(rows)) and np.all(np.isfinite(tg))):
            raise CalibrationError("a sitting holds non-finite numbers")
        return s


def same_screen(history: Sequence[Sitting], new: Sitting, max_sittings: int) -> list[Sitting]:
    """The earlier sittings to pool with ``new``: those of its screen size, newest last, so that with
    ``new`` at most ``max_sittings`` remain."""
    keep = [s for s in history if (s.screen_w_px, s.screen_h_px) == (new.screen_w_px, new.screen_h_px)]
    keep.sort(key=lambda s: s.created_at_ms)
    return keep[-(max_sittings - 1) :] if max_sittings > 1 else []


def fit_weighted(
    mapper: str, params: dict[str, Any], parts: Sequence[tuple[np.ndarray, np.ndarray, float]]
) -> Mapper:
    """Fit ``mapper`` on stacked (rows, targets, weight) parts.

    Raises:
        NotEnoughDataError: fewer distinct targets than the mapper needs. ValidationError: bad rows.
    """
    X = np.vstack([p[0] for p in parts])
    Y = np.vstack([p[1] for p in parts])
    w = np.concatenate([np.full(len(p[0]), float(p[2])) for p in parts])
    return create_mapper(mapper, **params).fit(X, Y, sample_weight=w)


def loo_error_px(mapper: str, params: dict[str, Any], new: Sitting, earlier: Sequence[Sitting],
                 newest_weight: float) -> float | None:  # fmt: skip
    """Mean leave-one-target-out error (px) over ``new``'s targets: each is predicted by the fit on the
    other targets of ``new`` (weight ``newest_weight``) plus every row of ``earlier`` (weight 1), clipped to
    the screen. ``earlier`` empty gives the sitting-alone figure. None when too few targets remain. At most
    :data:`MAX_LOO_TARGETS` targets (evenly spaced) are scored."""
    errs = []
    for k in _even(len(new.rows), MAX_LOO_TARGETS):
        keep = np.arange(len(new.rows)) != k
        parts = [(new.rows[keep], new.targets_px[keep], newest_weight)]
        parts += [(s.rows, s.targets_px, 1.0) for s in earlier]
        try:
            m = fit_weighted(mapper, params, parts)
        except NotEnoughDataError:
            return None
        p = np.clip(m.predict(new.rows[k : k + 1])[0], 0, [new.screen_w_px, new.screen_h_px])
        errs.append(float(np.hypot(*(p - new.targets_px[k]))))
    return float(np.mean(errs))


@dataclass(frozen=True, slots=True)
class PooledFit:
    """A pooled profile fit: the ``mapper``, the ``sittings`` it was fitted on (oldest first, the new one
    last) and the leave-one-target-out error (px) of the new sitting's targets alone and pooled."""

    mapper: Mapper
    sittings: tuple[Sitting, ...]
    alone_loo_px: float | None
    pooled_loo_px: float | None


def pooled_calibration(mapper: str, params: dict[str, Any], new: Sitting, history: Sequence[Sitting],
                       newest_weight: float, max_sittings: int) -> PooledFit:  # fmt: skip
    """Fit ``new`` pooled with the same-screen sittings of ``history`` (see the module docstring).

    Raises:
        ValidationError: ``newest_weight`` not positive or ``max_sittings`` < 1.
        NotEnoughDataError: the pooled rows have fewer distinct targets than the mapper needs.
    """
    if not newest_weight > 0 or max_sittings < 1:
        raise ValidationError("newest_weight must be positive and max_sittings at least 1")
    new = new.bounded()
    earlier = same_screen(history, new, max_sittings)
    parts = [(s.rows, s.targets_px, 1.0) for s in earlier] + [(new.rows, new.targets_px, newest_weight)]
    m = fit_weighted(mapper, params, parts)
    return PooledFit(
        m,
        (*earlier, new),
        loo_error_px(mapper, params, new, [], newest_weight),
        loo_error_px(mapper, params, new, earlier, newest_weight) if earlier else None,
    )


class OnlineRefit:
    """Refits a profile's mapper on each click of the current sitting (not thread-safe: one per stream).

    Args:
        mapper, params: the mapper to refit (must take ``sample_weight``).
        sittings: the profile's sittings (pooled with weight 1, the newest ``newest_weight``).
        click_weight: weight of each click row (the current sitting; issue 14: 3 on webcam_dots).
        max_clicks: most click rows kept (the oldest are dropped), bounding each refit's cost.
    """

    def __init__(self, mapper: str, params: dict[str, Any], sittings: Sequence[Sitting], newest_weight: float,
                 click_weight: float, max_clicks: int) -> None:  # fmt: skip
        if not sittings:
            raise CalibrationError("online refits need a profile with its calibration rows")
        if not click_weight > 0 or max_clicks < 1:
            raise ValidationError("click_weight must be positive and max_clicks at least 1")
        self.mapper, self.params = mapper, dict(params)
        *older, newest = sittings
        self._base = [(s.rows, s.targets_px, 1.0) for s in older] + [
            (newest.rows, newest.targets_px, float(newest_weight))
        ]
        self.screen = (newest.screen_w_px, newest.screen_h_px)
        self.click_weight = float(click_weight)
        self.max_clicks = int(max_clicks)
        self._rows: list[np.ndarray] = []
        self._targets: list[tuple[float, float]] = []
        self.refits = 0

    @property
    def n_clicks(self) -> int:
        return len(self._rows)

    def add_click(self, features: GazeFeatures, x_px: float, y_px: float) -> Mapper:
        """Add one click (the features of the frame at the click, the click's screen point) and refit.

        Raises:
            ValidationError: the point lies outside the profile's screen.
        """
        w, h = self.screen
        if not (0 <= x_px <= w and 0 <= y_px <= h):
            raise ValidationError(f"click ({x_px}, {y_px}) lies outside the calibrated {w}x{h} screen")
        self._rows.append(features.vector())
        self._targets.append((float(x_px), float(y_px)))
        del self._rows[: -self.max_clicks], self._targets[: -self.max_clicks]
        parts = [*self._base, (np.stack(self._rows), np.asarray(self._targets), self.click_weight)]
        m = fit_weighted(self.mapper, self.params, parts)
        self.refits += 1
        return m
