"""Fixtures of the vision tests: features of the real desk video, still images of the data folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from gazescope.config import Settings
from gazescope.domain import FrameFeatures
from gazescope.vision.pipeline import FrameAnalyzer
from gazescope.vision.video import iter_frames


@pytest.fixture(scope="session")
def desk_features(desk_video: Path) -> list[FrameFeatures]:
    """``FrameAnalyzer(Settings())`` features of every frame of the desk video (842 frames, one subject)."""
    analyzer = FrameAnalyzer(Settings())
    try:
        return [analyzer.analyze(rgb) for _, _, rgb in iter_frames(desk_video)]
    finally:
        analyzer.close()


@pytest.fixture(scope="session")
def still_image(data_dir: Path) -> Callable[[str], np.ndarray]:
    """Loads ``images/<name>`` of the data folder as an RGB uint8 array (H, W, 3)."""

    def load(name: str) -> np.ndarray:
        return cv2.cvtColor(cv2.imread(str(data_dir / "images" / name)), cv2.COLOR_BGR2RGB)

    return load
