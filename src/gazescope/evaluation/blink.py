"""Blink evaluation on clips in the Eyeblink8/ZJU ``.tag`` format (``gazescope evaluate blink``).

Protocol (``../shared/data/README.md``): a true blink is the span of frames sharing a ``blinkID``
(frameID 1-based in ZJU, 0-based in TalkingFace, as the file gives it), scaled to video frame slots by
``video slots / annotated frames`` and widened by 2 frames each side; a detected blink is an event of
the causal tracker (:class:`~gazescope.tracking.blinks.BlinkDetector` inside ``GazeTracker``, exactly as
the live service runs it); they match when their frame spans overlap, each matched at most once
(greedy in time order). Precision, recall and F1 are over events, per clip and overall (micro-averaged).

Video quirk handled: ZJU ``.avi`` files (Indeo 5) hold 2-byte drop-frame packets that decoders skip; each
decoded image is placed at the slot of its timestamp (``CAP_PROP_POS_MSEC x fps / 1000``) and the
previous image is repeated in skipped slots.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gazescope.config import Settings
from gazescope.errors import VideoReadError
from gazescope.tracking.tracker import GazeTracker
from gazescope.vision.pipeline import FrameAnalyzer

VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".wmv", ".webm")


@dataclass(frozen=True, slots=True)
class TagFile:
    """A parsed ``.tag`` annotation: per annotated frame its blinkID (-1 outside blinks)."""

    frame_ids: tuple[int, ...]
    blink_ids: tuple[int, ...]

    @property
    def n_frames(self) -> int:
        return len(self.frame_ids)

    def blinks(self) -> list[tuple[int, int]]:
        """(first, last) annotated frame position (0-based row) of each blink, in time order."""
        spans: dict[int, list[int]] = {}
        for row, bid in enumerate(self.blink_ids):
            if bid >= 0:
                spans.setdefault(bid, []).append(row)
        return sorted((min(r), max(r)) for r in spans.values())


def read_tag(path: Path) -> TagFile:
    """Parse an Eyeblink8/ZJU ``.tag`` file (lines after ``#start``: ``frameID:blinkID:...``).

    Raises:
        VideoReadError: the file has no annotated frame.
    """
    frame_ids: list[int] = []
    blink_ids: list[int] = []
    started = False
    for line in Path(path).read_text(errors="replace").splitlines():
        line = line.strip()
        if line == "#start":
            started = True
            continue
        if not started or not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) < 2:
            continue
        try:
            frame_ids.append(int(parts[0]))
            blink_ids.append(int(parts[1]))
        except ValueError:
            continue
    if not frame_ids:
        raise VideoReadError(f"{path}: no annotated frames after '#start'")
    return TagFile(tuple(frame_ids), tuple(blink_ids))


def read_video_slots(path: Path) -> tuple[list[np.ndarray], float]:
    """Decode a video into RGB images placed at their frame slots; returns (images, fps).

    Raises:
        VideoReadError: the video cannot be opened or decodes to nothing.
    """
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoReadError(f"cannot open video {path}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    placed: dict[int, np.ndarray] = {}
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        slot = round(cap.get(cv2.CAP_PROP_POS_MSEC) * fps / 1000.0)
        if slot in placed or slot < n:
            slot = max(n, max(placed, default=-1) + 1)
        placed[slot] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        n = slot + 1
    cap.release()
    if not placed:
        raise VideoReadError(f"no frame could be decoded from {path}")
    total = max(declared, max(placed) + 1)
    images: list[np.ndarray] = []
    last = placed[min(placed)]
    for i in range(total):
        last = placed.get(i, last)
        images.append(last)
    return images, fps


def truth_spans(tag: Path, n_slots: int, widen: int = 2) -> list[tuple[int, int]]:
    """Annotated blinks of ``tag`` as (first, last) video frame slot: scaled by ``n_slots / annotated
    frames`` and widened by ``widen`` each side (protocol above).

    Raises:
        VideoReadError: the tag has no annotated frame.
    """
    ann = read_tag(tag)
    scale = n_slots / ann.n_frames
    return [
        (int(np.floor(s * scale)) - widen, int(np.ceil((e + 1) * scale - 1)) + widen) for s, e in ann.blinks()
    ]


def match_events(truth: list[tuple[int, int]], detected: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Greedy one-to-one matching of overlapping frame spans; returns (truth_idx, detected_idx) pairs."""
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for ti, (ts, te) in enumerate(truth):
        for di, (ds, de) in enumerate(detected):
            if di in used:
                continue
            if ds <= te and de >= ts:
                pairs.append((ti, di))
                used.add(di)
                break
    return pairs


def prf(true_n: int, det_n: int, matched: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from event counts (1.0 where nothing was to be found or reported)."""
    p = matched / det_n if det_n else 1.0
    r = matched / true_n if true_n else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


@dataclass(frozen=True, slots=True)
class BlinkScores:
    """Event counts and their precision, recall and F1 (0-1; :func:`prf`)."""

    true: int
    detected: int
    matched: int
    precision: float
    recall: float
    f1: float

    @classmethod
    def from_counts(cls, true_n: int, det_n: int, matched: int) -> BlinkScores:
        return cls(int(true_n), int(det_n), int(matched), *prf(int(true_n), int(det_n), int(matched)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ClipResult:
    """One clip's blink scores, frame counts, and the true and detected (first, last) frame spans."""

    clip: str
    true: int
    detected: int
    matched: int
    precision: float
    recall: float
    f1: float
    frames: int
    frames_with_face: int
    true_spans: list[tuple[int, int]]
    detected_spans: list[tuple[int, int]]


def find_clips(root: Path) -> Iterator[tuple[Path, Path]]:
    """(video, tag) pairs under ``root`` (recursively), sorted by path."""
    for tag in sorted(Path(root).rglob("*.tag")):
        for suf in VIDEO_SUFFIXES:
            video = tag.with_suffix(suf)
            if video.exists():
                yield video, tag
                break


def evaluate_clip(video: Path, tag: Path, settings: Settings | None = None, widen: int = 2) -> ClipResult:
    """Run the causal tracker over one clip and score its blinks against the annotation."""
    settings = settings or Settings()
    images, fps = read_video_slots(video)
    truth = truth_spans(tag, len(images), widen)
    analyzer = FrameAnalyzer(settings)
    tracker = GazeTracker(settings)
    faces = 0
    try:
        for i, img in enumerate(images):
            ff = analyzer.analyze(img)
            faces += ff.face_detected
            tracker.update(ff, i * 1000.0 / fps, i)
    finally:
        analyzer.close()
    detected = [(e.start_frame, e.end_frame) for e in tracker.blink_events]
    matched = len(match_events(truth, detected))
    p, r, f = prf(len(truth), len(detected), matched)
    return ClipResult(
        str(video), len(truth), len(detected), matched, p, r, f, len(images), faces, truth, detected
    )


@dataclass(frozen=True, slots=True)
class BlinkEvaluation:
    """Scores over all clips (micro-averaged) and per clip; :meth:`to_dict` is the ``--json`` output."""

    overall: BlinkScores
    clips: tuple[ClipResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"overall": self.overall.to_dict(), "clips": [asdict(r) for r in self.clips]}


def _evaluate_clip_star(args: tuple[Path, Path, Settings | None]) -> ClipResult:
    return evaluate_clip(*args)


def evaluate_blinks(
    root: Path, settings: Settings | None = None, progress: bool = False, workers: int = 1
) -> BlinkEvaluation:
    """Evaluate every clip under ``root`` (protocol in the module docstring), ``workers`` clips at a time
    (``workers`` > 1: that many spawned processes, each clip scored as in one process; same results).

    Raises:
        VideoReadError: no (video, .tag) pair under ``root``.
        ValueError: ``workers`` < 1.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    clips = list(find_clips(Path(root)))
    if not clips:
        raise VideoReadError(f"no video with a .tag annotation found under {root}")
    jobs = [(v, t, settings) for v, t in clips]
    with contextlib.ExitStack() as stack:
        if workers == 1:
            scored: Iterator[ClipResult] = map(_evaluate_clip_star, jobs)
        else:  # spawned, never forked: MediaPipe holds threads
            ctx = multiprocessing.get_context("spawn")
            pool = stack.enter_context(ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx))
            scored = pool.map(_evaluate_clip_star, jobs)  # results in clip order
        if progress:
            from tqdm import tqdm

            scored = iter(tqdm(scored, desc="clips", unit="clip", total=len(jobs)))
        results = list(scored)
    overall = BlinkScores.from_counts(
        sum(r.true for r in results), sum(r.detected for r in results), sum(r.matched for r in results)
    )
    return BlinkEvaluation(overall, tuple(results))
