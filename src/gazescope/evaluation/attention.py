"""Attention and eye contact against hand labels (``gazescope evaluate attention DIR``).

Labels: ``DIR/labels.csv`` in the format of ``shared/data/attention`` (its ``LABELS.md``): one row per
labelled frame with ``source`` (a video path relative to the data folder, the parent of DIR),
``frame_index``, ``face`` (yes/no), ``eyes`` (open/closed/unclear), ``gaze`` (camera/screen/away/unclear)
and ``toward_device`` (yes/no/unclear).

The tracker is run causally over every frame of each source, as the service runs a stream (one
:class:`~gazescope.tracking.tracker.GazeTracker` per source, frames in order at the video's frame times),
and its sample at each labelled frame is scored. Classes (``unclear`` labels are left out of each):

- eye contact: ``eye_contact`` against ``gaze`` camera (positive) vs screen or away;
- looking away: ``attention_state == looking_away`` against ``toward_device`` no (positive) vs yes with open
  eyes;
- eyes closed: ``is_blinking`` or ``attention_state == eyes_closed`` against ``eyes`` closed vs open;
- face present: ``face_detected`` against ``face`` yes vs no.

The confusion matrix crosses the labelled state of ``LABELS.md``'s suggested use (absent, eyes_closed,
looking_away, focused) with the predicted ``attention_state``. ``focused_share`` against
``toward_share`` compares, per source, the share of labelled frames called focused with the labelled share
looking toward the device, both over the frames whose ``toward_device`` is yes or no.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gazescope.config import Settings, TrackingSettings
from gazescope.domain import AttentionState, GazeSample
from gazescope.errors import VideoReadError
from gazescope.evaluation.landmark_series import LandmarkSeries, video_landmarks

CLASSES = ("eye_contact", "looking_away", "eyes_closed", "face_present")
LABELLED_STATES = ("absent", "eyes_closed", "looking_away", "focused")


@dataclass(frozen=True, slots=True)
class FrameLabel:
    """One hand-labelled frame (values as in ``labels.csv``)."""

    source: str
    frame_index: int
    face: str
    eyes: str
    gaze: str
    toward_device: str

    def truth(self, cls: str) -> bool | None:
        """The label of ``cls`` (one of :data:`CLASSES`): True, False, or None where unclear."""
        if cls == "face_present":
            return {"yes": True, "no": False}.get(self.face)
        if self.face != "yes":
            return None
        if cls == "eye_contact":
            return {"camera": True, "screen": False, "away": False}.get(self.gaze)
        if cls == "looking_away":
            if self.toward_device == "no":
                return True
            return False if self.toward_device == "yes" and self.eyes == "open" else None
        if cls == "eyes_closed":
            return {"closed": True, "open": False}.get(self.eyes)
        raise ValueError(f"unknown class {cls!r} (one of {', '.join(CLASSES)})")

    @property
    def state(self) -> str | None:
        """The labelled attention state (LABELS.md's suggested use), None where it cannot be told."""
        if self.face == "no":
            return "absent"
        if self.eyes == "closed":
            return "eyes_closed"
        if self.toward_device == "no":
            return "looking_away"
        if self.toward_device == "yes" and self.eyes == "open":
            return "focused"
        return None


def predicted(cls: str, s: GazeSample) -> bool:
    """What the sample says of ``cls`` (see the module docstring)."""
    if cls == "eye_contact":
        return bool(s.eye_contact)
    if cls == "looking_away":
        return s.attention_state == AttentionState.LOOKING_AWAY
    if cls == "eyes_closed":
        return bool(s.is_blinking) or s.attention_state == AttentionState.EYES_CLOSED
    if cls == "face_present":
        return bool(s.face_detected)
    raise ValueError(f"unknown class {cls!r} (one of {', '.join(CLASSES)})")


def read_labels(directory: Path) -> dict[str, list[FrameLabel]]:
    """Labels of ``directory/labels.csv`` grouped by source, in frame order.

    Raises:
        VideoReadError: the file is missing or lacks a column.
    """
    path = directory / "labels.csv"
    if not path.is_file():
        raise VideoReadError(f"no labels.csv in {directory}")
    out: dict[str, list[FrameLabel]] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                lab = FrameLabel(
                    row["source"],
                    int(row["frame_index"]),
                    row["face"],
                    row["eyes"],
                    row["gaze"],
                    row["toward_device"],
                )
            except (KeyError, ValueError) as exc:
                raise VideoReadError(f"{path}: bad row {row} ({exc})") from exc
            out.setdefault(lab.source, []).append(lab)
    for labs in out.values():
        labs.sort(key=lambda lab: lab.frame_index)
    return out


@dataclass(frozen=True, slots=True)
class ClassScores:
    """Precision, recall and F1 of one class over ``n`` labelled frames (``tp``, ``fp``, ``fn``, ``tn``)."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, o: ClassScores) -> ClassScores:
        return ClassScores(self.tp + o.tp, self.fp + o.fp, self.fn + o.fn, self.tn + o.tn)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "positives": self.tp + self.fn,
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "f1": round(self.f1, 3),
        }


EMPTY = ClassScores(0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class SourceResult:
    """Scores of one source: per class, the confusion of labelled vs predicted state, focused share."""

    source: str
    frames: int
    classes: Mapping[str, ClassScores]
    confusion: Mapping[str, Mapping[str, int]]
    focused_share: float
    toward_share: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "frames": self.frames,
            "classes": {k: v.to_dict() for k, v in self.classes.items()},
            "confusion": {k: dict(v) for k, v in self.confusion.items()},
            "focused_share": round(self.focused_share, 3),
            "toward_share": round(self.toward_share, 3),
        }


def score_source(source: str, labels: Sequence[FrameLabel], samples: Sequence[GazeSample]) -> SourceResult:
    """Score the samples of one source (``samples[i]`` is frame ``i``) at its labelled frames."""
    counts = {c: Counter[str]() for c in CLASSES}
    confusion: dict[str, Counter[str]] = {st: Counter() for st in LABELLED_STATES}
    focused = toward = decided = 0
    for lab in labels:
        if lab.frame_index >= len(samples):
            continue
        s = samples[lab.frame_index]
        for c in CLASSES:
            t = lab.truth(c)
            if t is None:
                continue
            p = predicted(c, s)
            counts[c]["tp" if t and p else "fn" if t else "fp" if p else "tn"] += 1
        if lab.state is not None:
            confusion[lab.state][s.attention_state.value] += 1
        if lab.toward_device in ("yes", "no"):
            decided += 1
            focused += s.attention_state == AttentionState.FOCUSED
            toward += lab.toward_device == "yes"
    n = len(labels)
    return SourceResult(
        source,
        n,
        {c: ClassScores(k["tp"], k["fp"], k["fn"], k["tn"]) for c, k in counts.items()},
        {k: dict(v) for k, v in confusion.items()},
        focused / decided if decided else 0.0,
        toward / decided if decided else 0.0,
    )


def track(series: LandmarkSeries, settings: TrackingSettings) -> list[GazeSample]:
    """The causal tracker over every frame of ``series``; sample ``i`` belongs to frame ``i``."""
    from gazescope.tracking.tracker import GazeTracker

    tracker = GazeTracker(settings)
    return [tracker.update(ff, series.t_ms(i), i) for i, ff in enumerate(series.features())]


@dataclass(frozen=True, slots=True)
class AttentionEvaluation:
    """Per-source results and their sum (``overall``)."""

    sources: Sequence[SourceResult]
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def overall(self) -> dict[str, ClassScores]:
        tot = {c: EMPTY for c in CLASSES}
        for r in self.sources:
            for c in CLASSES:
                tot[c] = tot[c] + r.classes[c]
        return tot

    @property
    def confusion(self) -> dict[str, dict[str, int]]:
        out: dict[str, Counter[str]] = {st: Counter() for st in LABELLED_STATES}
        for r in self.sources:
            for k, v in r.confusion.items():
                out[k].update(v)
        return {k: dict(v) for k, v in out.items()}

    @property
    def max_focused_excess(self) -> float:
        """Largest (focused share - labelled toward-device share) over the sources, in points of 0..1."""
        return max((r.focused_share - r.toward_share for r in self.sources), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": {c: v.to_dict() for c, v in self.overall.items()},
            "confusion": self.confusion,
            "max_focused_excess": round(self.max_focused_excess, 3),
            "sources": [r.to_dict() for r in self.sources],
            "params": dict(self.params),
        }


def load_sources(
    directory: Path, settings: Settings, cache_dir: Path | None = None, progress: bool = False
) -> dict[str, tuple[LandmarkSeries, list[FrameLabel]]]:
    """Each labelled source's landmarks (cached) and labels; sources are found relative to DIR's parent.

    Raises:
        VideoReadError: labels.csv is missing or a source video cannot be read.
    """
    labels = read_labels(directory)
    root = directory.parent
    out = {}
    for src in sorted(labels):
        video = root / src
        if not video.is_file():
            raise VideoReadError(f"labelled source {src} not found under {root}")
        if progress:
            print(f"landmarks: {src}", flush=True)
        out[src] = (video_landmarks(video, settings, cache_dir), labels[src])
    return out


def evaluate_sources(
    sources: Mapping[str, tuple[LandmarkSeries, list[FrameLabel]]],
    settings: TrackingSettings,
    tracker: Callable[[LandmarkSeries, TrackingSettings], list[GazeSample]] = track,
) -> AttentionEvaluation:
    """Run the tracker over each source with ``settings`` and score it."""
    return AttentionEvaluation(
        [score_source(src, labs, tracker(series, settings)) for src, (series, labs) in sources.items()]
    )


def evaluate_attention(
    directory: Path, settings: Settings | None = None, cache_dir: Path | None = None, progress: bool = False
) -> AttentionEvaluation:
    """The current settings over every labelled source (the 'all' protocol)."""
    s = settings if settings is not None else Settings()
    return evaluate_sources(load_sources(directory, s, cache_dir, progress), s)
