"""Blink thresholds chosen by leave-one-subject-out validation (``gazescope evaluate blink --protocol loso``).

Protocol: for each subject S of the labelled clips (ZJU Eyeblink: 10 subjects, 4 clips each; Pan et al.,
"Eyeblink-based anti-spoofing in face recognition from a generic webcamera", ICCV 2007), every grid point
of the detector's thresholds is scored on the other subjects' clips; the grid point with the best
micro-averaged F1 there (ties: the one nearest the current defaults) is applied to S's clips, which it never
saw. The events of the held-out subjects are pooled into one precision/recall/F1, the figure that tells how
the detector does on people it was not tuned on; the all-subjects figure of the defaults is reported beside
it, and so is the grid point chosen on all subjects (what a new default would be).

The detector replayed is :class:`~gazescope.tracking.blinks.BlinkDetector`, exactly as
``GazeTracker`` feeds it (EAR of frames with a face, None otherwise), over cached EAR series
(:mod:`gazescope.evaluation.ear_series`), so Face Mesh runs once per clip.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from gazescope.config import Settings
from gazescope.errors import VideoReadError
from gazescope.evaluation.blink import find_clips, match_events, prf
from gazescope.evaluation.ear_series import EarSeries, clip_series
from gazescope.tracking.blinks import BlinkDetector


@dataclass(frozen=True, slots=True)
class BlinkParams:
    """The tuned thresholds (names as :class:`BlinkDetector` takes them; see ``Settings.blink_*``)."""

    threshold_ratio: float
    release_ratio: float
    depth_ratio: float
    reopen_max_ms: float
    min_ms: float
    lowered_dip_ratio: float

    @classmethod
    def from_settings(cls, s: Settings) -> BlinkParams:
        return cls(
            s.blink_threshold_ratio,
            s.blink_release_ratio,
            s.blink_depth_ratio,
            s.blink_reopen_max_ms,
            s.blink_min_ms,
            s.blink_lowered_dip_ratio,
        )


# The searched grid: the defaults' neighbourhood on each axis (release kept above the start threshold).
GRID: dict[str, tuple[float, ...]] = {
    "threshold_ratio": (0.7, 0.75, 0.8, 0.85),
    "release_ratio": (0.8, 0.85, 0.9),
    "depth_ratio": (0.6, 0.65, 0.7, 0.75, 0.8),
    "reopen_max_ms": (200.0, 300.0, 400.0),
    "min_ms": (30.0, 50.0, 80.0),
    "lowered_dip_ratio": (0.8,),
}


def grid_points(grid: dict[str, tuple[float, ...]] = GRID) -> list[BlinkParams]:
    """Every valid combination of ``grid`` (release above the start threshold)."""
    names = [f.name for f in fields(BlinkParams)]
    pts = [BlinkParams(**dict(zip(names, vals, strict=True))) for vals in itertools.product(*grid.values())]
    return [p for p in pts if p.release_ratio > p.threshold_ratio]


def detect(series: EarSeries, params: BlinkParams, settings: Settings) -> list[tuple[int, int]]:
    """Blink events (first, last frame slot) of the causal detector over one EAR series."""
    det = BlinkDetector(
        settings.blinks.model_copy(
            update={
                "blink_threshold_ratio": params.threshold_ratio,
                "blink_release_ratio": params.release_ratio,
                "blink_min_ms": params.min_ms,
                "blink_depth_ratio": params.depth_ratio,
                "blink_lowered_dip_ratio": params.lowered_dip_ratio,
                "blink_reopen_max_ms": params.reopen_max_ms,
            }
        )
    )
    step = 1000.0 / series.fps
    for i, e in enumerate(series.ear):
        det.update(i * step, i, None if np.isnan(e) else float(e))
    return [(ev.start_frame, ev.end_frame) for ev in det.events]


def counts(series: EarSeries, params: BlinkParams, settings: Settings) -> tuple[int, int, int]:
    """(true, detected, matched) event counts of one clip."""
    found = detect(series, params, settings)
    return len(series.truth), len(found), len(match_events(series.truth, found))


def _f1(c: np.ndarray) -> float:
    return prf(int(c[0]), int(c[1]), int(c[2]))[2]


def _pick(table: np.ndarray, cols: np.ndarray, points: list[BlinkParams], ref: BlinkParams) -> int:
    """Index of the grid point with the best micro F1 over clip columns ``cols`` (ties: nearest ``ref``)."""
    sums = table[:, cols, :].sum(axis=1)
    f1 = np.array([_f1(c) for c in sums])
    best = np.flatnonzero(f1 >= f1.max() - 1e-12)
    ref_v = np.array(astuple_params(ref))
    dist = [
        float(np.abs((np.array(astuple_params(points[i])) - ref_v) / np.maximum(ref_v, 1e-9)).sum())
        for i in best
    ]
    return int(best[int(np.argmin(dist))])


def astuple_params(p: BlinkParams) -> tuple[float, ...]:
    return tuple(getattr(p, f.name) for f in fields(BlinkParams))


CONDITIONS: dict[str, tuple[str, ...]] = {
    "camera": ("frontal", "upward"),
    "glasses": ("no glasses", "thin rims", "black frames"),
}
_CODES = {
    "camera": {"F": "frontal", "U": "upward"},
    "glasses": {"N": "no glasses", "T": "thin rims", "B": "black frames"},
}


def condition_of(clip: str) -> dict[str, str]:
    """Recording condition of a ZJU clip from its name (``000003M_UBN``: camera F/U, glasses N/T/B);
    {} for other names."""
    m = re.search(r"_([FU])([NTB])N$", Path(clip).stem)
    if not m:
        return {}
    return {"camera": _CODES["camera"][m.group(1)], "glasses": _CODES["glasses"][m.group(2)]}


def load_series(root: Path, settings: Settings, cache_dir: Path | None) -> list[EarSeries]:
    """EAR series of every (video, .tag) clip under ``root``.

    Raises:
        VideoReadError: no labelled clip under ``root``.
    """
    clips = list(find_clips(Path(root)))
    if not clips:
        raise VideoReadError(f"no video with a .tag annotation found under {root}")
    return [clip_series(v, t, settings, cache_dir) for v, t in clips]


def evaluate_loso(
    root: Path,
    settings: Settings | None = None,
    cache_dir: Path | None = None,
    grid: dict[str, tuple[float, ...]] = GRID,
) -> dict:
    """Leave-one-subject-out blink evaluation; returns a JSON-able dict.

    Keys: ``defaults`` (the current settings on all subjects), ``loso`` (held-out figures pooled over
    folds), ``conditions`` (the held-out figures by ZJU camera and glasses condition), ``folds`` (per held-out subject: the chosen params, its held-out counts and F1), ``all_subjects_best``
    (the grid point chosen on all subjects and its, optimistic, F1), ``grid_size``.

    Raises:
        VideoReadError: no labelled clip under ``root``.
    """
    settings = settings or Settings()
    series = load_series(root, settings, cache_dir)
    points = grid_points(grid)
    ref = BlinkParams.from_settings(settings)
    table = np.array([[counts(s, p, settings) for s in series] for p in points])  # (points, clips, 3)
    default_c = np.array([counts(s, ref, settings) for s in series]).sum(axis=0)
    subjects = sorted({s.subject for s in series})
    subj = np.array([s.subject for s in series])
    folds = []
    held = np.zeros(3, dtype=int)
    held_default = np.zeros(3, dtype=int)
    per_clip = np.zeros((len(series), 3), dtype=int)  # held-out counts of each clip
    for sub in subjects:
        test = np.flatnonzero(subj == sub)
        train = np.flatnonzero(subj != sub)
        k = _pick(table, train, points, ref)
        c = table[k, test, :].sum(axis=0)
        per_clip[test] = table[k, test, :]
        cd = np.array([counts(series[i], ref, settings) for i in test]).sum(axis=0)
        held += c
        held_default += cd
        folds.append(
            {
                "subject": sub,
                "params": asdict(points[k]),
                "true": int(c[0]),
                "detected": int(c[1]),
                "matched": int(c[2]),
                "f1": _f1(c),
                "f1_defaults": _f1(cd),
            }
        )
    k_all = _pick(table, np.arange(len(series)), points, ref)
    all_c = table[k_all].sum(axis=0)

    def fig(c: np.ndarray) -> dict:
        p, r, f = prf(int(c[0]), int(c[1]), int(c[2]))
        return {
            "true": int(c[0]),
            "detected": int(c[1]),
            "matched": int(c[2]),
            "precision": p,
            "recall": r,
            "f1": f,
        }

    return {
        "defaults": {"params": asdict(ref), **fig(default_c)},
        "loso": fig(held),
        "folds": folds,
        "all_subjects_best": {"params": asdict(points[k_all]), **fig(all_c)},
        "conditions": {
            name: fig(
                per_clip[[i for i, s in enumerate(series) if condition_of(s.clip).get(axis) == name]].sum(
                    axis=0
                )
            )
            for axis, names in CONDITIONS.items()
            for name in names
            if any(condition_of(s.clip).get(axis) == name for s in series)
        },
        "grid_size": len(points),
        "clips": len(series),
    }
