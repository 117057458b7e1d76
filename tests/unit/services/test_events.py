"""services.events on sessions stored in a real SQLite store: fixations of client gaze points as JSON
and CSV."""

from __future__ import annotations

import csv
import io

import pytest

from gazescope.services.events import session_events, session_events_csv
from gazescope.services.sessions import load_session
from support.gaze_plans import LEFT, RIGHT


@pytest.mark.parametrize("method", ["idt", "ivt"])
def test_two_fixations_and_the_saccade_between(store, make_session, method) -> None:
    make_session("s1", [LEFT, RIGHT])
    ev = session_events(load_session(store, "s1"), method)
    assert ev["session_id"] == "s1" and ev["method"] == method
    assert len(ev["fixations"]) == 2 and ev["blinks"] == []
    assert ev["fixations"][0]["x_px"] == pytest.approx(LEFT[0], abs=3)
    assert ev["fixations"][1]["x_px"] == pytest.approx(RIGHT[0], abs=3)
    rows = list(
        csv.DictReader(io.StringIO(session_events_csv(load_session(store, "s1"), method, "fixations")))
    )
    assert len(rows) == 2 and float(rows[1]["x_px"]) == pytest.approx(RIGHT[0], abs=3)


def test_a_session_without_samples_has_no_events_and_a_header_only_csv(store, make_session) -> None:
    make_session("empty")
    data = load_session(store, "empty")
    ev = session_events(data)
    assert (ev["fixations"], ev["saccades"], ev["blinks"]) == ([], [], [])
    for kind in ("fixations", "saccades", "blinks"):
        text = session_events_csv(data, "idt", kind)
        assert text.count("\n") == 1 and text.strip()
