"""Real data: the gaze protocols that reuse a person's earlier sittings (issue 14) on webcam_dots."""

from __future__ import annotations

import pytest

from gazescope.errors import ValidationError
from gazescope.evaluation.gaze import evaluate_items, load_items
from gazescope.evaluation.gaze_protocols import evaluate_reuse


@pytest.fixture(scope="module")
def items(data_dir):
    folder = data_dir / "gaze" / "webcam_dots"
    if not (folder / "labels.csv").is_file():
        pytest.skip(f"webcam_dots not found under {data_dir}")
    return load_items(folder)


def test_pooled_and_online_score_every_image_once_and_beat_one_sitting(items):
    session = evaluate_items(items).overall.to_dict()
    pooled = evaluate_reuse(items, "pooled").overall.to_dict()
    online = evaluate_reuse(items, "online", weight=3.0).overall.to_dict()
    n_images = sum(it.features is not None for it in items)
    assert session["n"] == 2336 and pooled["n"] == online["n"] == n_images == 288
    assert pooled["mean_error_px"] < session["mean_error_px"]
    assert online["mean_error_px"] < session["mean_error_px"]


def test_online_weight_changes_the_fit_and_bad_values_are_refused(items):
    w1 = evaluate_reuse(items, "online", weight=1.0).overall.to_dict()["mean_error_px"]
    w10 = evaluate_reuse(items, "online", weight=10.0).overall.to_dict()["mean_error_px"]
    assert w1 != w10
    with pytest.raises(ValidationError):
        evaluate_reuse(items, "online", weight=0.0)
    with pytest.raises(ValidationError):
        evaluate_reuse(items, "session")
