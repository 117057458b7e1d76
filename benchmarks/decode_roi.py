"""Study: decode only the face region of each JPEG while Face Mesh tracks, against full decoding.

libjpeg-turbo 3's TurboJPEG API can decode a region of rows and columns (``tj3SetCroppingRegion``):
blocks left and right of the region skip the IDCT and colour conversion, rows below it are never read
(rows above are still entropy-decoded: Huffman data has no index). This script measures what that would
give the live path on the desk video, without changing the server:

* two tracking-mode ``FrameAnalyzer``\\ s see the same JPEG frames (quality 70, as ``gazescope bench``):
  one the full decode (simplejpeg, today's path), one a frame of the same size that is black except for
  the region: the square Face Mesh itself will crop from the previous frame's landmarks (1.5 x the
  landmark box, rotated by the eye-corner roll; MediaPipe's ``FaceLandmarkLandmarksToRoi``) grown by
  ``--margin`` and widened to the 16-pixel MCU grid; full frames when the previous frame had no face
  and every ``--every`` frames (the face count runs on those);
* printed: decode ms p50/p95 of each path (interleaved, same run), the region's share of the frame,
  and landmark agreement between the two analyzers: mean/max distance of the landmark rows in px, the
  EAR and horizontal/vertical ratio differences, frames whose face detection differs.

libjpeg-turbo >= 3.0 is needed (Debian bookworm ships 2.1.5, whose TurboJPEG API cannot crop while
decoding); ``--lib`` names a ``libturbojpeg.so`` with ``tj3*`` symbols, e.g. the one vendored in the
``turbojpeg`` wheel on PyPI (``.../site-packages/turbojpeg.libs/libturbojpeg-*.so.0.3.0``)::

    python benchmarks/decode_roi.py --lib /path/to/libturbojpeg.so.0.3.0 [--margin 0.1] [--every 15]
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import simplejpeg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gazescope.config import Settings  # noqa: E402
from gazescope.vision.frames import encode_jpeg  # noqa: E402
from gazescope.vision.landmarks.mediapipe_facemesh import FACEMESH_SUBSET  # noqa: E402
from gazescope.vision.pipeline import FrameAnalyzer  # noqa: E402
from gazescope.vision.video import iter_frames  # noqa: E402

DEFAULT_VIDEO = (
    Path(os.environ.get("GAZESCOPE_DATA_DIR", ROOT.parent / "shared" / "data"))
    / "videos"
    / "desk_webcam_640x480.avi"
)
MCU_W = 16  # 4:2:0 JPEGs (browsers, OpenCV): a cropping region starts on a 16-pixel column
MESH_ROI_SCALE = 1.5  # MediaPipe face_landmark_front: landmarks -> ROI rect scale, square on the long side


class _Region(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("w", ctypes.c_int), ("h", ctypes.c_int)]


class RegionDecoder:
    """``tj3`` region decoding into a black frame of the full size (landmarks stay in frame pixels)."""

    def __init__(self, lib_path: str) -> None:
        lib = ctypes.CDLL(lib_path)
        if not hasattr(lib, "tj3SetCroppingRegion"):
            sys.exit(f"{lib_path} has no tj3SetCroppingRegion: libjpeg-turbo >= 3.0 is needed")
        lib.tj3Init.restype = ctypes.c_void_p
        lib.tj3Init.argtypes = [ctypes.c_int]
        lib.tj3DecompressHeader.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.tj3SetCroppingRegion.argtypes = [ctypes.c_void_p, _Region]
        lib.tj3Decompress8.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
        ]  # fmt: skip
        lib.tj3GetErrorStr.restype = ctypes.c_char_p
        lib.tj3GetErrorStr.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.handle = lib.tj3Init(1)  # TJINIT_DECOMPRESS

    def decode(self, data: bytes, shape: tuple[int, int], region: tuple[int, int, int, int]) -> np.ndarray:
        h, w = shape
        x, y, rw, rh = region
        out = np.zeros((h, w, 3), np.uint8)
        lib, hd = self.lib, self.handle
        ok = lib.tj3DecompressHeader(hd, data, len(data)) == 0
        ok = ok and lib.tj3SetCroppingRegion(hd, _Region(x, y, rw, rh)) == 0
        dst = out.ctypes.data + (y * w + x) * 3
        ok = ok and lib.tj3Decompress8(hd, data, len(data), dst, w * 3, 0) == 0  # TJPF_RGB
        if not ok:
            raise RuntimeError(lib.tj3GetErrorStr(hd).decode())
        return out


def mesh_region(points: np.ndarray, shape: tuple[int, int], margin: float) -> tuple[int, int, int, int]:
    """(x, y, w, h) covering the square Face Mesh crops next from these landmarks, grown by ``margin``."""
    h, w = shape
    lo, hi = points.min(axis=0), points.max(axis=0)
    cx, cy = (lo + hi) / 2
    side = MESH_ROI_SCALE * float(max(hi - lo)) * (1.0 + margin)
    r, l_ = points[FACEMESH_SUBSET.index(33)], points[FACEMESH_SUBSET.index(263)]
    roll = math.atan2(float(l_[1] - r[1]), float(l_[0] - r[0]))
    half = side * (abs(math.cos(roll)) + abs(math.sin(roll))) / 2
    x0 = max(int(cx - half) // MCU_W * MCU_W, 0)
    y0 = max(int(cy - half), 0)
    x1, y1 = min(math.ceil(cx + half), w), min(math.ceil(cy + half), h)
    return x0, y0, max(x1 - x0, 1), max(y1 - y0, 1)


def pct(v: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(v), q)) if v else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", required=True, help="libturbojpeg.so of libjpeg-turbo >= 3.0")
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--margin", type=float, default=0.1, help="growth of Face Mesh's crop square")
    ap.add_argument("--every", type=int, default=15, help="a full frame every N frames")
    ap.add_argument("--quality", type=int, default=70)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    jpegs = [encode_jpeg(rgb, args.quality) for _, _, rgb in iter_frames(args.video)]
    dec = RegionDecoder(args.lib)
    s = Settings()
    full_an, roi_an = FrameAnalyzer(s), FrameAnalyzer(s)
    t_full: list[float] = []
    t_roi: list[float] = []
    t_roi_only: list[float] = []
    share: list[float] = []
    dist_mean: list[float] = []
    dist_max: list[float] = []
    d_ear: list[float] = []
    d_ratio: list[float] = []
    differ = full_frames = 0
    prev = None
    for i, data in enumerate(jpegs):
        t0 = time.perf_counter()
        full = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
        t1 = time.perf_counter()
        shape = full.shape[:2]
        if prev is None or i % args.every == 0:
            img = full
            full_frames += 1
            t_roi.append((t1 - t0) * 1e3)
        else:
            region = mesh_region(prev, shape, args.margin)
            t2 = time.perf_counter()
            img = dec.decode(data, shape, region)
            dt = (time.perf_counter() - t2) * 1e3
            t_roi.append(dt)
            t_roi_only.append(dt)
            share.append(region[2] * region[3] / (shape[0] * shape[1]))
        t_full.append((t1 - t0) * 1e3)
        a, b = full_an.analyze(full), roi_an.analyze(img)
        prev = b.landmarks.points_px if b.face_detected and b.landmarks is not None else None
        if a.face_detected != b.face_detected:
            differ += 1
            continue
        if not a.face_detected:
            continue
        d = np.linalg.norm(a.landmarks.points_px - b.landmarks.points_px, axis=1)
        dist_mean.append(float(d.mean()))
        dist_max.append(float(d.max()))
        for ea, eb in ((a.right_eye, b.right_eye), (a.left_eye, b.left_eye)):
            if ea.ear is not None and eb.ear is not None:
                d_ear.append(abs(ea.ear - eb.ear))
            for ra, rb in (
                (ea.horizontal_ratio, eb.horizontal_ratio),
                (ea.vertical_ratio, eb.vertical_ratio),
            ):
                if ra is not None and rb is not None:
                    d_ratio.append(abs(ra - rb))
    full_an.close()
    roi_an.close()
    n = len(jpegs)
    print(
        f"{args.video.name}: {n} frames, JPEG q{args.quality}, margin {args.margin}, full every {args.every}"
    )
    print(f"decode ms p50/p95: full {pct(t_full, 50):.3f}/{pct(t_full, 95):.3f}  "
          f"region path {pct(t_roi, 50):.3f}/{pct(t_roi, 95):.3f}  "
          f"(region frames only {pct(t_roi_only, 50):.3f}/{pct(t_roi_only, 95):.3f}; {full_frames} full frames)")  # fmt: skip
    print(f"region share of the frame p50 {pct(share, 50):.3f} p95 {pct(share, 95):.3f}")
    print(f"face detection differs on {differ} of {n} frames")
    print(f"landmark distance px: mean over frames {np.mean(dist_mean):.4f}, p95 of per-frame mean "
          f"{pct(dist_mean, 95):.4f}, max {max(dist_max):.4f}")  # fmt: skip
    print(f"|EAR difference| mean {np.mean(d_ear):.5f} max {max(d_ear):.5f}; "
          f"|ratio difference| mean {np.mean(d_ratio):.5f} max {max(d_ratio):.5f}")  # fmt: skip


if __name__ == "__main__":
    main()
