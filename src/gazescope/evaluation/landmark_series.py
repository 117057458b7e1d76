"""Per-frame Face Mesh landmarks of a labelled video, cached on disk.

Face Mesh is the costly step of every evaluation that replays the tracker; everything after the landmarks
(eye measures, head pose, gaze, blinks, attention) is cheap. :func:`video_landmarks` runs the detector once
per video, as the live service does (one tracking detector for the whole stream, every frame in order),
and stores the landmarks as ``.npz`` under a cache folder, so that tuning and scoring replay the measures
and the causal tracker from landmarks in a second. The cache key holds the video's path, size and mtime and
the landmark backend, so a changed video or backend is measured again.

Frame indices: ZJU Eyeblink clips (under a ``zju`` folder) are placed at their frame slots
(:func:`~gazescope.evaluation.blink.read_video_slots`, the data README's convention); other videos in
decode order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazescope.config import LandmarkSettings, Settings
from gazescope.domain import FaceLandmarks, FrameFeatures


@dataclass(frozen=True, slots=True)
class LandmarkSeries:
    """One video's landmarks per frame.

    ``points``: float32 (n_frames, n_points, 2) in frame pixels, NaN where no face was found. ``depth``:
    float32 (n_frames, n_points), MediaPipe's relative z (NaN without a face). ``face_count``: int
    (n_frames,). ``fps``: frames per second of the container. ``image_size``: (width, height) px.
    """

    video: str
    fps: float
    image_size: tuple[int, int]
    points: np.ndarray
    depth: np.ndarray
    face_count: np.ndarray

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def t_ms(self, i: int) -> float:
        """Time of frame ``i`` in milliseconds (``i / fps``)."""
        return i * 1000.0 / self.fps

    def features(self) -> Iterator[FrameFeatures]:
        """Every frame's :class:`FrameFeatures`, measured from its landmarks (the live path's measures)."""
        from gazescope.vision.landmarks.mediapipe_facemesh import FACEMESH_SCHEME
        from gazescope.vision.pipeline import measure_face

        for i in range(len(self)):
            if np.isnan(self.points[i, 0, 0]):
                yield FrameFeatures(
                    face_detected=False, face_count=int(self.face_count[i]), image_size=self.image_size
                )
                continue
            face = FaceLandmarks(
                points_px=self.points[i],
                scheme=FACEMESH_SCHEME,
                image_size=self.image_size,
                depth=self.depth[i],
            )
            yield measure_face(face, int(self.face_count[i]))


def read_frames(video: Path) -> tuple[list[np.ndarray], float]:
    """RGB frames of ``video`` and its fps: frame slots for ZJU clips
    (:func:`~gazescope.evaluation.blink.read_video_slots`), decode order otherwise
    (:func:`~gazescope.vision.video.iter_frames`).

    Raises:
        VideoReadError: the video cannot be opened or decodes to nothing.
    """
    from gazescope.evaluation.blink import read_video_slots
    from gazescope.vision.video import iter_frames, probe

    if "zju" in video.parts:
        return read_video_slots(video)
    return [rgb for _, _, rgb in iter_frames(video)], probe(video).fps


def measure_landmarks(video: Path, settings: Settings) -> LandmarkSeries:
    """Run the tracking landmark detector over every frame of ``video`` (no cache).

    Raises:
        VideoReadError: the video cannot be decoded.
        ValueError: the backend is not MediaPipe Face Mesh (the only scheme replayed here).
    """
    from gazescope.vision.landmarks import create_detector

    if settings.landmark_backend != "mediapipe":
        raise ValueError(f"landmark replay supports the mediapipe backend, not {settings.landmark_backend!r}")
    frames, fps = read_frames(video)
    h, w = frames[0].shape[:2]
    det = create_detector(settings.landmark_backend, static=False, settings=settings)
    n_points = det.scheme.n_points
    points = np.full((len(frames), n_points, 2), np.nan, dtype=np.float32)
    depth = np.full((len(frames), n_points), np.nan, dtype=np.float32)
    count = np.zeros(len(frames), dtype=np.int32)
    try:
        for i, img in enumerate(frames):
            d = det.detect(img)
            count[i] = d.face_count
            if d.face is not None:
                points[i] = d.face.points_px
                if d.face.depth is not None:
                    depth[i] = d.face.depth
    finally:
        det.close()
    return LandmarkSeries(str(video), fps, (w, h), points, depth, count)


def mesh_landmarks(frames: Iterable[np.ndarray], settings: LandmarkSettings) -> np.ndarray:
    """All 478 landmarks of each frame as a client running Face Mesh sends them (issue 22, docs/protocol.md
    "Landmarks instead of frames"): MediaPipe Face Mesh with iris refinement in tracking mode, one graph for
    the whole sequence, the server detector's thresholds (``settings``).

    Args:
        frames: RGB uint8 images (H, W, 3) of one stream, in order.
        settings: ``min_detection_confidence`` and ``min_tracking_confidence`` are read.

    Returns:
        float32 (n_frames, 478, 3): x, y normalised to the image, z relative depth; NaN rows where Face Mesh
        found no face.

    Raises:
        LandmarkBackendError: mediapipe is not importable.
    """
    from gazescope.errors import LandmarkBackendError

    try:
        from mediapipe.python.solutions import face_mesh
    except Exception as exc:  # pragma: no cover - depends on the installed wheel
        raise LandmarkBackendError(f"MediaPipe Face Mesh is unavailable ({exc})") from exc
    out: list[np.ndarray] = []
    with face_mesh.FaceMesh(
        static_image_mode=False,
        max_num_faces=1,
        refine_landmarks=True,
        min_detection_confidence=settings.min_detection_confidence,
        min_tracking_confidence=settings.min_tracking_confidence,
    ) as mesh:
        for rgb in frames:
            res = mesh.process(rgb)
            if res.multi_face_landmarks:
                lm = res.multi_face_landmarks[0].landmark
                out.append(np.array([(p.x, p.y, p.z) for p in lm], dtype=np.float32))
            else:
                out.append(np.full((478, 3), np.nan, dtype=np.float32))
    return np.stack(out) if out else np.zeros((0, 478, 3), np.float32)


def _cache_path(cache_dir: Path, video: Path, settings: Settings) -> Path:
    st = video.stat()
    key = f"{video.resolve()}|{st.st_size}|{st.st_mtime_ns}|{settings.landmark_backend}|slots-v1"
    return cache_dir / f"{video.stem}-{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz"


def video_landmarks(video: Path, settings: Settings, cache_dir: Path | None = None) -> LandmarkSeries:
    """The video's :class:`LandmarkSeries`, read from ``cache_dir`` when measured before, else measured
    (and stored there when ``cache_dir`` is given)."""
    if cache_dir is None:
        return measure_landmarks(video, settings)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = _cache_path(cache_dir, video, settings)
    if path.exists():
        with np.load(path) as z:
            return LandmarkSeries(
                str(video),
                float(z["fps"]),
                (int(z["size"][0]), int(z["size"][1])),
                z["points"],
                z["depth"],
                z["face_count"],
            )
    s = measure_landmarks(video, settings)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp, fps=s.fps, size=np.array(s.image_size), points=s.points, depth=s.depth, face_count=s.face_count
    )
    tmp.replace(path)
    return s
