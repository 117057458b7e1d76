"""services.stimuli on a real SQLite store: storing a real image, AOIs checked against its size, listing,
deleting, and a stimulus read from files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gazescope.errors import FrameDecodeError, NotFoundError, ValidationError
from gazescope.services import stimuli
from support.gaze_plans import AOIS


def test_an_image_is_stored_with_its_decoded_size_and_read_back(store, photo: bytes) -> None:
    facts = stimuli.decode_stimulus_image(photo, 10_000_000, 4096, 4096)
    assert facts.format == "jpeg" and facts.width_px > facts.height_px > 0
    doc = stimuli.store_image_stimulus(store, photo, facts, None)
    assert doc["name"] == doc["id"] and doc["bytes"] == len(photo)
    stim = stimuli.load_stimulus(store, doc["id"])
    assert stim.image == photo and stim.aois == ()
    assert stim.size_px == (float(facts.width_px), float(facts.height_px))
    assert stimuli.load_stimulus(store, doc["id"], image=False).image is None


def test_a_file_that_is_not_an_image_is_refused(store) -> None:
    with pytest.raises(FrameDecodeError):
        stimuli.decode_stimulus_image(b"not an image", 10_000_000, 4096, 4096)


@pytest.mark.parametrize(
    ("aoi", "reason"),
    [
        pytest.param(
            {"name": "out", "kind": "rect", "x_px": 5000, "y_px": 0, "w_px": 10, "h_px": 10},
            "lies outside",
            id="outside-the-image",
        ),
        pytest.param({"name": "bad", "kind": "circle"}, "", id="unknown-kind"),
    ],
)
def test_bad_aois_are_refused_and_nothing_is_stored(store, make_stimulus, screen_png, aoi, reason) -> None:
    stim = make_stimulus(screen_png, AOIS)
    with pytest.raises(ValidationError) as err:
        stimuli.replace_aois(store, stim, [aoi])
    assert reason in err.value.message
    assert [a.name for a in stimuli.load_stimulus(store, stim.id).aois] == ["left", "right"]


def test_listing_is_newest_first_with_the_aois(store, make_stimulus, screen_png, photo) -> None:
    first = make_stimulus(screen_png, AOIS)
    second = make_stimulus(photo)
    listed = stimuli.list_stimuli(store)
    assert [d["id"] for d, _ in listed] == [second.id, first.id]
    assert [len(a) for _, a in listed] == [0, 2]
    left = stimuli.aoi_json(first.aois[0])
    assert left["name"] == "left" and left["kind"] == "rect" and None not in left.values()


def test_a_deleted_stimulus_is_not_found(store, make_stimulus, screen_png) -> None:
    stim = make_stimulus(screen_png, AOIS)
    stimuli.delete_stimulus(store, stim.id)
    with pytest.raises(NotFoundError) as err:
        stimuli.load_stimulus(store, stim.id)
    assert err.value.code == "stimulus_not_found"
    with pytest.raises(NotFoundError):
        store.get_blob(stimuli.stimulus_blob_key(stim.id))


def test_a_stimulus_from_an_image_file_and_an_aoi_file(tmp_path: Path, screen_png: bytes) -> None:
    (tmp_path / "page.png").write_bytes(screen_png)
    (tmp_path / "aois.json").write_text(json.dumps({"aois": AOIS}))
    stim = stimuli.stimulus_from_files(tmp_path / "page.png", tmp_path / "aois.json")
    assert stim is not None and stim.id == "page" and stim.size_px == (800.0, 600.0)
    assert [a.name for a in stim.aois] == ["left", "right"]
    assert stimuli.stimulus_from_files(None, None) is None
    with pytest.raises(ValidationError, match="needs --image"):
        stimuli.stimulus_from_files(None, tmp_path / "aois.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValidationError, match="not JSON"):
        stimuli.stimulus_from_files(tmp_path / "page.png", tmp_path / "bad.json")
