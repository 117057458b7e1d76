"""Screen-gaze protocols that reuse a person's earlier sittings (``gazescope evaluate gaze --protocol``).

The project protocol (:func:`gazescope.evaluation.gaze.evaluate_items`, ``--protocol session``) calibrates
on one sitting and scores the person's other sittings. The variants here score each sitting ``t`` of a
subject as a *new* sitting, the person's other sittings being the *earlier* ones:

- ``pooled``: the mapper is fitted on all the other sittings pooled (no click of ``t``), then predicts
  every image of ``t``.
- ``online``: the images of ``t`` arrive in click order (labels.csv order); image ``k`` is predicted by
  the mapper fitted on the other sittings (weight 1) plus images ``0..k-1`` of ``t`` (weight ``W``), then
  it becomes a calibration sample (a click recalibrates). This is the webcam-tracker practice of learning
  from every click (Papoutsaki et al., "WebGazer: Scalable Webcam Eye Tracking Using User Interactions",
  IJCAI 2016), with the new sitting weighted more since the head and lighting of this sitting are what
  the earlier ones lack.

- ``profile``: what an accumulating profile gives: sitting ``c`` is the newest calibration (all its
  images, weight ``W``), pooled with every other sitting but the scored one (weight 1); each other
  sitting ``t`` is scored, as in the session protocol (so the figures compare with it directly).

No variant ever fits on the image it scores. Mapper rows are the features of
:mod:`gazescope.calibration.features`; the mapper must take ``sample_weight`` (``ridge``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from gazescope.calibration.mappers import create_mapper
from gazescope.errors import NotEnoughDataError, ValidationError
from gazescope.evaluation.scoring import ErrorStats, GazeEvaluation, LabelledItem, errors, stats


def _sittings(items: list[LabelledItem]) -> dict[str, dict[str, list[LabelledItem]]]:
    out: dict[str, dict[str, list[LabelledItem]]] = defaultdict(lambda: defaultdict(list))
    for it in items:
        if it.features is not None:
            out[it.subject][it.session].append(it)
    return out


def _fit(mapper: str, params: dict[str, Any], cal: list[LabelledItem], w: np.ndarray | None):
    X = np.stack([it.features.vector() for it in cal])  # type: ignore[union-attr]
    Y = np.array([it.target_px for it in cal])
    return create_mapper(mapper, **params).fit(X, Y, sample_weight=w)


def evaluate_reuse(
    items: list[LabelledItem],
    protocol: str,
    weight: float = 3.0,
    mapper: str = "ridge",
    mapper_params: dict[str, Any] | None = None,
) -> GazeEvaluation:
    """Run ``pooled``, ``online`` or ``profile`` (module docstring) on extracted items; same result keys as
    :func:`~gazescope.evaluation.gaze.evaluate_items` plus ``protocol`` and ``weight``.

    Raises:
        ValidationError: unknown protocol, weight not positive, or a mapper that needs eye patches.
    """
    if protocol not in ("pooled", "online", "profile"):
        raise ValidationError(f"protocol must be 'pooled', 'online' or 'profile', got {protocol!r}")
    if not weight > 0:
        raise ValidationError("weight must be positive")
    params = mapper_params or {}
    if create_mapper(mapper, **params).needs_patches:
        raise ValidationError("the reuse protocols take feature-vector mappers (ridge)")
    all_e: list[float] = []
    all_p: list[float] = []
    subjects: dict[str, ErrorStats] = {}
    skipped = 0
    for subj, sessions in _sittings(items).items():
        errs: list[float] = []
        pcts: list[float] = []
        for name, new in sessions.items():
            earlier = [it for s, its in sessions.items() if s != name for it in its]
            if protocol == "pooled":
                try:
                    m = _fit(mapper, params, earlier, None)
                except NotEnoughDataError:
                    skipped += 1
                    continue
                P = m.predict(np.stack([it.features.vector() for it in new]))  # type: ignore[union-attr]
                e, p = errors(new, P)
            elif protocol == "profile":
                e, p = [], []
                for scored, its in sessions.items():
                    if scored == name:
                        continue
                    rest = [it for s, ss in sessions.items() if s not in (name, scored) for it in ss]
                    w = np.concatenate([np.full(len(new), float(weight)), np.ones(len(rest))])
                    try:
                        m = _fit(mapper, params, new + rest, w)
                    except NotEnoughDataError:
                        skipped += 1
                        continue
                    ek, pk = errors(its, m.predict(np.stack([it.features.vector() for it in its])))  # type: ignore[union-attr]
                    e += ek
                    p += pk
            else:
                e, p = [], []
                for k, it in enumerate(new):
                    cal = earlier + new[:k]
                    w = np.concatenate([np.ones(len(earlier)), np.full(k, float(weight))])
                    try:
                        m = _fit(mapper, params, cal, w)
                    except NotEnoughDataError:
                        skipped += 1
                        continue
                    ek, pk = errors([it], m.predict(it.features.vector()[None, :]))  # type: ignore[union-attr]
                    e += ek
                    p += pk
            errs += e
            pcts += p
        subjects[subj] = stats(np.array(errs), np.array(pcts))
        all_e += errs
        all_p += pcts
    return GazeEvaluation(
        overall=stats(np.array(all_e), np.array(all_p)),
        subjects=subjects,
        mapper=mapper,
        skipped={"fits_not_enough_data": skipped},
        protocol=protocol,
        weight=weight if protocol != "pooled" else None,
    )
