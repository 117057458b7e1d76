"""The calibration catalogue of ``GET /api/calibration/layouts``."""

from __future__ import annotations

from gazescope.calibration.catalogue import layouts_info
from gazescope.config import Settings


def test_layouts_info_lists_grids_pursuit_and_mappers() -> None:
    info = layouts_info(Settings())
    assert [g["name"] for g in info.layouts] == ["5", "9", "13", "16"]
    assert info.pursuit["validation_every"] == 5 and "pursuit" in info.layout_names
    assert "ridge" in info.mappers and info.default_layout == "9"
