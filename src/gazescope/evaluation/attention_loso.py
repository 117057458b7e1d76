"""Attention thresholds chosen leave-one-source-out (``gazescope evaluate attention --protocol loso``).

Protocol: for each labelled source S (a video; its person and set-up differ from the others'), the
thresholds are chosen on the other sources and S is scored with them, so no figure of S comes from
thresholds that saw S. The choice is made in three stages, each on the pooled counts of the training
sources, each class by its own F1 (ties: the grid point nearest the defaults):

1. looking away: ``looking_away_deg``, ``attention_return_after_s``, ``lid_pitch_gain_deg`` and
   ``attention_pitch_weight`` (the release angle stays at its fraction of ``looking_away_deg``);
2. eye contact: ``eye_contact_cone_deg``, with stage 1's lid gain;
3. eyes closed: ``closed_iris_drop`` and ``lowered_lids_after_ms``.

The held-out sources' counts are pooled into one figure per class, reported beside the defaults over all
sources and the thresholds chosen on all sources (what a new default would be, not evidence). The
tracker replayed is :class:`~gazescope.tracking.tracker.GazeTracker`, exactly as the service runs it,
over cached landmarks (:mod:`gazescope.evaluation.landmark_series`), so Face Mesh runs once per video.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gazescope.config import Settings
from gazescope.domain import FrameFeatures
from gazescope.evaluation.attention import (
    CLASSES,
    EMPTY,
    AttentionEvaluation,
    ClassScores,
    FrameLabel,
    SourceResult,
    score_source,
)
from gazescope.evaluation.landmark_series import LandmarkSeries

Params = tuple[tuple[str, float], ...]

STAGE_AWAY: dict[str, tuple[float, ...]] = {
    "looking_away_deg": (15.0, 18.0, 21.0, 24.0),
    "attention_return_after_s": (0.0, 0.1),
    "lid_pitch_gain_deg": (30.0, 45.0, 60.0),
    "attention_pitch_weight": (1.0, 1.5, 2.0),
}
STAGE_CONTACT: dict[str, tuple[float, ...]] = {"eye_contact_cone_deg": (8.0, 10.0, 12.0, 14.0, 16.0, 18.0)}
STAGE_CLOSED: dict[str, tuple[float, ...]] = {
    "closed_iris_drop": (0.02, 0.025, 0.03, 0.035, 0.045),
    "lowered_lids_after_ms": (400.0, 600.0, 800.0),
}
Grid = Mapping[str, Sequence[float]]
STAGES: tuple[Grid, Grid, Grid] = (STAGE_AWAY, STAGE_CONTACT, STAGE_CLOSED)


def _grid(axes: Mapping[str, Sequence[float]]) -> list[dict[str, float]]:
    return [dict(zip(axes, vals, strict=True)) for vals in itertools.product(*axes.values())]


def settings_for(base: Settings, params: Mapping[str, float]) -> Settings:
    """``base`` with ``params`` applied (``release_fraction`` sets the release angle as a fraction of
    ``looking_away_deg``)."""
    upd = {k: v for k, v in params.items() if k != "release_fraction"}
    deg = upd.get("looking_away_deg", base.looking_away_deg)
    frac = params.get("release_fraction", base.looking_away_release_deg / base.looking_away_deg)
    upd["looking_away_release_deg"] = round(deg * frac, 3)
    return base.model_copy(update=upd)


@dataclass(frozen=True, slots=True)
class Fold:
    """One held-out source: the parameters chosen without it and its scores with them."""

    source: str
    params: Mapping[str, float]
    result: SourceResult


@dataclass(frozen=True, slots=True)
class AttentionLoso:
    """The leave-one-source-out folds, their pooled figure, the defaults and the all-sources choice."""

    folds: Sequence[Fold]
    defaults: AttentionEvaluation
    all_sources: AttentionEvaluation
    grid_runs: int

    @property
    def loso(self) -> AttentionEvaluation:
        return AttentionEvaluation([f.result for f in self.folds])

    def to_dict(self) -> dict[str, Any]:
        return {
            "loso": self.loso.to_dict(),
            "defaults": self.defaults.to_dict(),
            "all_sources": self.all_sources.to_dict(),
            "folds": [
                {"source": f.source, "params": dict(f.params), **f.result.to_dict()} for f in self.folds
            ],
            "grid_runs": self.grid_runs,
        }


class _Runner:
    """Tracks every source with a parameter set once and keeps its per-source results."""

    def __init__(
        self,
        sources: Mapping[str, tuple[LandmarkSeries, list[FrameLabel]]],
        base: Settings,
    ) -> None:
        self.base = base
        self.sources = sources
        self.features: dict[str, list[FrameFeatures]] = {k: list(v[0].features()) for k, v in sources.items()}
        self._cache: dict[Params, dict[str, SourceResult]] = {}

    def results(self, params: Mapping[str, float]) -> dict[str, SourceResult]:
        from gazescope.tracking.tracker import GazeTracker

        key: Params = tuple(sorted(params.items()))
        if key not in self._cache:
            s = settings_for(self.base, params)
            out = {}
            for src, (series, labels) in self.sources.items():
                tr = GazeTracker(s)
                samples = [tr.update(ff, series.t_ms(i), i) for i, ff in enumerate(self.features[src])]
                out[src] = score_source(src, labels, samples)
            self._cache[key] = out
        return self._cache[key]

    @property
    def runs(self) -> int:
        return len(self._cache)


def _pooled(results: Mapping[str, SourceResult], cls: str, keep: Sequence[str]) -> ClassScores:
    tot = EMPTY
    for src in keep:
        tot = tot + results[src].classes[cls]
    return tot


def _distance(params: Mapping[str, float], base: Settings) -> float:
    """How far a grid point is from the defaults (relative, summed): the tie-breaker."""
    ref = {
        **{k: float(getattr(base, k)) for k in params if k != "release_fraction"},
        "release_fraction": base.looking_away_release_deg / base.looking_away_deg,
    }
    return sum(abs(v - ref[k]) / (abs(ref[k]) or 1.0) for k, v in params.items())


def _best(runner: _Runner, cands: list[dict[str, float]], cls: str, keep: Sequence[str]) -> dict[str, float]:
    def key(p: dict[str, float]) -> tuple[float, float]:
        return (-_pooled(runner.results(p), cls, keep).f1, _distance(p, runner.base))

    return min(cands, key=key)


def choose(
    runner: _Runner, keep: Sequence[str], stages: tuple[Grid, Grid, Grid] = STAGES
) -> dict[str, float]:
    """The three-stage choice of the module docstring on the sources ``keep``."""
    away = _best(runner, _grid(stages[0]), "looking_away", keep)
    contact = _best(runner, [{**away, **c} for c in _grid(stages[1])], "eye_contact", keep)
    return _best(runner, [{**contact, **c} for c in _grid(stages[2])], "eyes_closed", keep)


def evaluate_loso(
    sources: Mapping[str, tuple[LandmarkSeries, list[FrameLabel]]],
    settings: Settings | None = None,
    stages: tuple[Grid, Grid, Grid] = STAGES,
) -> AttentionLoso:
    """Run the protocol of the module docstring over ``sources`` (from
    :func:`~gazescope.evaluation.attention.load_sources`); ``stages``: the three grids (default
    :data:`STAGES`)."""
    base = settings if settings is not None else Settings()
    runner = _Runner(sources, base)
    names = list(sources)
    folds = []
    for held in names:
        params = choose(runner, [n for n in names if n != held], stages)
        folds.append(Fold(held, params, runner.results(params)[held]))
    best_all = choose(runner, names, stages)
    defaults = AttentionEvaluation(list(runner.results({}).values()))
    chosen = AttentionEvaluation(list(runner.results(best_all).values()), params=best_all)
    return AttentionLoso(folds, defaults, chosen, runner.runs)


__all__ = ["CLASSES", "STAGES", "AttentionLoso", "Fold", "choose", "evaluate_loso", "settings_for"]
