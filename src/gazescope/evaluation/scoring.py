"""Scoring shared by the screen-gaze protocols: the labelled item, the error of each prediction, the error
statistics (mean, median, % of screen width; the data README's protocol) and the typed result of a
protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from gazescope.calibration.features import GazeFeatures


@dataclass(frozen=True, slots=True)
class LabelledItem:
    """One labelled snapshot: who, which sitting, the dot it shows (screen px), the screen size (px) and
    its calibration features (None where no face was found)."""

    subject: str
    session: str
    target_px: tuple[float, float]
    screen_w_px: float
    screen_h_px: float
    features: GazeFeatures | None


@dataclass(frozen=True, slots=True)
class ErrorStats:
    """Screen-point error over ``n`` predictions: mean and median in px (2 decimals), mean in % of the
    screen width (3 decimals); None for all three when ``n`` is 0."""

    mean_error_px: float | None
    median_error_px: float | None
    mean_error_pct_width: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class GazeEvaluation:
    """Result of a gaze protocol: ``overall`` and per-subject :class:`ErrorStats`, the mapper, what was
    skipped (counts by reason); ``protocol``/``weight`` for the reuse protocols
    (:mod:`gazescope.evaluation.gaze_protocols`), ``mirror``/``zooms`` once :func:`evaluate_gaze` set the
    views. Fields left None are absent from :meth:`to_dict` (the ``--json`` output)."""

    overall: ErrorStats
    subjects: Mapping[str, ErrorStats]
    mapper: str
    skipped: Mapping[str, int]
    protocol: str | None = None
    weight: float | None = None
    mirror: bool | None = None
    zooms: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "overall": self.overall.to_dict(),
            "subjects": {k: v.to_dict() for k, v in self.subjects.items()},
            "mapper": self.mapper,
        }
        if self.protocol is not None:
            d["protocol"] = self.protocol
            d["weight"] = self.weight
        d["skipped"] = dict(self.skipped)
        if self.mirror is not None:
            d["mirror"] = self.mirror
        if self.zooms is not None:
            d["zooms"] = list(self.zooms)
        return d


def errors(items: Sequence[LabelledItem], P: np.ndarray) -> tuple[list[float], list[float]]:
    """Error of each prediction ``P`` (n, 2) px, clipped to the item's screen: (px, % of screen width)."""
    errs: list[float] = []
    pcts: list[float] = []
    for it, p in zip(items, P, strict=True):
        px = min(max(p[0], 0.0), it.screen_w_px)
        py = min(max(p[1], 0.0), it.screen_h_px)
        e = float(np.hypot(px - it.target_px[0], py - it.target_px[1]))
        errs.append(e)
        pcts.append(100.0 * e / it.screen_w_px)
    return errs, pcts


def stats(errs: np.ndarray, pct: np.ndarray) -> ErrorStats:
    """:class:`ErrorStats` of errors ``errs`` (n,) px and ``pct`` (n,) % of screen width."""
    if len(errs) == 0:
        return ErrorStats(None, None, None, 0)
    return ErrorStats(
        mean_error_px=round(float(errs.mean()), 2),
        median_error_px=round(float(np.median(errs)), 2),
        mean_error_pct_width=round(float(pct.mean()), 3),
        n=len(errs),
    )
