"""services.gaze_points on a real SQLite store: which sessions take client gaze, the screen the points are
in, frame indices continuing the session's, and points that go back in time."""

from __future__ import annotations

import pytest

from gazescope.services import gaze_points
from gazescope.services.gaze_points import GazeRejected, GazeScreen
from gazescope.storage.frame_indices import continuation
from support.gaze_plans import LEFT, H, W, points


@pytest.mark.parametrize(
    ("status", "tracked", "reason"),
    [
        pytest.param("ended", False, "has ended", id="ended"),
        pytest.param("running", True, "being tracked over its WebSocket", id="tracked"),
    ],
)
def test_ended_or_tracked_sessions_take_no_gaze(store, make_session, status, tracked, reason) -> None:
    make_session("s1")
    store.update_session("s1", status=status)
    with pytest.raises(GazeRejected) as err:
        gaze_points.check_gaze_target(store.get_session("s1"), tracked=tracked)
    assert err.value.conflict and reason in err.value.message


def test_a_running_untracked_session_takes_gaze(store, make_session) -> None:
    gaze_points.check_gaze_target(make_session("s1"), tracked=False)


@pytest.mark.parametrize(
    ("session", "given", "expected", "conflict"),
    [
        pytest.param((W, H), (None, None), GazeScreen(W, H, False), None, id="the-sessions"),
        pytest.param((W, H), (W, H), GazeScreen(W, H, False), None, id="the-same-given"),
        pytest.param((None, None), (1024, 768), GazeScreen(1024, 768, True), None, id="given-once"),
        pytest.param((W, H), (1024, 768), None, True, id="contradiction"),
        pytest.param((None, None), (None, None), None, False, id="none-at-all"),
    ],
)
def test_the_screen_of_the_points(store, make_session, session, given, expected, conflict) -> None:
    info = make_session("s1", screen_w_px=session[0], screen_h_px=session[1])
    if expected is not None:
        assert gaze_points.gaze_screen(info, *given) == expected
        return
    with pytest.raises(GazeRejected) as err:
        gaze_points.gaze_screen(info, *given)
    assert err.value.conflict is conflict


def test_batches_continue_the_frame_indices_and_never_go_back_in_time(store, make_session) -> None:
    info = make_session("s1", [LEFT])
    screen = gaze_points.gaze_screen(info, None, None)
    later = [{**p, "t_ms": p["t_ms"] + 10_000} for p in points([LEFT])]
    samples = gaze_points.gaze_samples(later, screen, continuation(store, "s1"))
    assert [s["frame_index"] for s in samples] == list(range(10, 20))
    assert all(s["source"] == "client_gaze" for s in samples)
    store.append_samples("s1", samples)
    with pytest.raises(GazeRejected) as err:
        gaze_points.gaze_samples(points([LEFT]), screen, continuation(store, "s1"))
    assert err.value.conflict and "back in time" in err.value.message


def test_counts_of_stored_points(store, make_session) -> None:
    info = make_session("s1")
    pts = [
        {"t_ms": 0.0, "x_px": 10.0, "y_px": 10.0},
        {"t_ms": 40.0, "x_px": -50.0, "y_px": 10.0},
        {"t_ms": 80.0, "x_px": None, "y_px": None},
    ]
    samples = gaze_points.gaze_samples(
        pts, gaze_points.gaze_screen(info, None, None), continuation(store, "s1")
    )
    assert gaze_points.gaze_counts(samples) == gaze_points.GazeCounts(
        accepted=3, on_screen=1, without_point=1
    )
