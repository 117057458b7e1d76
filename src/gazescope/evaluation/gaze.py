"""Screen-gaze evaluation on a folder of labelled webcam snapshots (the webcam_dots format).

Folder format: ``labels.csv`` with columns ``image,subject,session,x,y,screen_w,screen_h`` (image path
relative to the folder; x, y the dot in screen px) and the images (JPEG/PNG).

Protocol (the data README's): for each subject and each of its sessions used as the calibration (all of
that session's images), fit the mapper and predict every image of the subject's *other* sessions;
report mean and median error in px and in % of screen width, per subject and overall (mean over all
predictions). Predictions are clipped to the screen, as :meth:`FittedCalibration.predict_screen` does.
The calibration never sees an image it is scored on. Per-image features are computed once per run and
kept in memory only.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np

from gazescope.calibration.features import analyze_views, extract_features
from gazescope.calibration.mappers import create_mapper
from gazescope.config import Settings
from gazescope.errors import NotEnoughDataError, ValidationError, VideoReadError
from gazescope.evaluation.scoring import ErrorStats, GazeEvaluation, LabelledItem, errors, stats

REQUIRED_COLUMNS = ("image", "subject", "session", "x", "y", "screen_w", "screen_h")


def _read_labels(folder: Path) -> list[dict[str, str]]:
    path = folder / "labels.csv"
    if not path.is_file():
        raise VideoReadError(f"no labels.csv in {folder}")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise VideoReadError(f"labels.csv lacks columns: {', '.join(missing)}")
        return list(reader)


def load_items(
    folder: Path,
    settings: Settings | None = None,
    *,
    with_patches: bool = False,
    mirror: bool = False,
    subjects: list[str] | None = None,
    zooms: Sequence[float] = (),
) -> list[LabelledItem]:
    """Features of every labelled image (None where no face/iris was found), in labels.csv order.

    Raises:
        VideoReadError: missing labels.csv or columns, or an image that cannot be read.
    """
    from gazescope.vision.pipeline import FrameAnalyzer

    folder = Path(folder)
    rows = _read_labels(folder)
    if subjects is not None:
        rows = [r for r in rows if r["subject"] in subjects]
    analyzer = FrameAnalyzer(settings or Settings(), static=True)
    items = []
    try:
        for r in rows:
            bgr = cv2.imread(str(folder / r["image"]), cv2.IMREAD_COLOR)
            if bgr is None:
                raise VideoReadError(f"cannot read image {r['image']}")
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            ff, views = analyze_views(analyzer.analyze, rgb, mirror=mirror, zooms=zooms)
            gf = extract_features(ff, rgb if with_patches else None, views=views)
            items.append(
                LabelledItem(
                    subject=r["subject"],
                    session=r["session"],
                    target_px=(float(r["x"]), float(r["y"])),
                    screen_w_px=float(r["screen_w"]),
                    screen_h_px=float(r["screen_h"]),
                    features=gf,
                )
            )
    finally:
        analyzer.close()
    return items


def evaluate_items(
    items: list[LabelledItem],
    mapper: str = "ridge",
    mapper_params: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> GazeEvaluation:
    """Run the protocol on already extracted items (see :func:`evaluate_gaze`)."""
    probe = create_mapper(mapper, **(mapper_params or {}))
    by_subject: dict[str, dict[str, list[LabelledItem]]] = defaultdict(lambda: defaultdict(list))
    for it in items:
        by_subject[it.subject][it.session].append(it)
    all_err: list[float] = []
    all_pct: list[float] = []
    subjects: dict[str, ErrorStats] = {}
    skipped = {"calibrations_not_enough_data": 0, "images_without_features": 0}
    skipped["images_without_features"] = sum(1 for it in items if it.features is None)
    for subj, sessions in by_subject.items():
        errs: list[float] = []
        pcts: list[float] = []
        for cal_name, cal_items in sessions.items():
            cal = [it for it in cal_items if it.features is not None]
            rows = cast(list[np.ndarray], [it.features.row(probe.needs_patches) for it in cal])  # type: ignore[union-attr]
            try:
                m = create_mapper(mapper, **(mapper_params or {})).fit(
                    np.stack(rows) if rows else np.zeros((0, 1)), np.array([it.target_px for it in cal])
                )
            except NotEnoughDataError:
                skipped["calibrations_not_enough_data"] += 1
                continue
            test = [
                it for s, its in sessions.items() if s != cal_name for it in its if it.features is not None
            ]
            if not test:
                continue
            P = m.predict(np.stack([it.features.row(probe.needs_patches) for it in test]))  # type: ignore[union-attr,misc]
            e, pc = errors(test, P)
            errs += e
            pcts += pc
            if progress is not None:
                progress(f"{subj} calibration session {cal_name}: {len(test)} predictions")
        subjects[subj] = stats(np.array(errs), np.array(pcts))
        all_err += errs
        all_pct += pcts
    return GazeEvaluation(stats(np.array(all_err), np.array(all_pct)), subjects, mapper, skipped)


def evaluate_gaze(
    dir: Path,
    mapper: str = "ridge",
    settings: Settings | None = None,
    *,
    mapper_params: dict[str, Any] | None = None,
    mirror: bool = False,
    subjects: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    zooms: Sequence[float] = (),
    protocol: str = "session",
    weight: float = 3.0,
) -> GazeEvaluation:
    """Evaluate screen-gaze calibration on a labelled folder (see the module docstring).

    Args:
        dir: folder with ``labels.csv`` and the images.
        mapper: registered mapper name; ``mapper_params`` passed to it.
        settings: landmark backend settings (default ``Settings()``).
        mirror: mirror-average the features (a second Face Mesh pass on the flipped image).
        zooms: zoom scales of extra views averaged into the features (each also mirrored when
            ``mirror``), e.g. :data:`~gazescope.calibration.features.DEFAULT_ZOOMS`; see
            :mod:`gazescope.calibration.features`. ``mirror=True, zooms=(0.9, 1.1)`` is the most accurate
            setting measured (6 Face Mesh passes per image).
        subjects: only these subjects (default all).
        protocol: ``session`` (above), or ``pooled`` / ``online`` / ``profile`` with the new sitting
            weighted ``weight`` (:mod:`gazescope.evaluation.gaze_protocols`).
        progress: called with a line of text after each calibration session.

    Returns:
        :class:`GazeEvaluation` (``overall`` and per-subject :class:`ErrorStats`, ``mapper``, ``skipped``,
        ``mirror``, ``zooms``; ``to_dict()`` is the ``--json`` output).

    Raises:
        VideoReadError: bad folder, labels or image. UnknownMapperError / ConfigurationError: bad mapper.
        ValidationError: unknown protocol or a weight that is not positive.
    """
    if protocol not in ("session", "pooled", "online", "profile"):
        raise ValidationError(f"protocol must be session, pooled, online or profile, got {protocol!r}")
    probe = create_mapper(mapper, **(mapper_params or {}))
    items = load_items(
        Path(dir),
        settings,
        with_patches=probe.needs_patches,
        mirror=mirror,
        subjects=subjects,
        zooms=zooms,
    )
    if protocol == "session":
        out = evaluate_items(items, mapper, mapper_params, progress)
    else:
        from gazescope.evaluation.gaze_protocols import evaluate_reuse

        out = evaluate_reuse(items, protocol, weight, mapper, mapper_params)
    return replace(out, mirror=mirror, zooms=tuple(float(z) for z in zooms))
