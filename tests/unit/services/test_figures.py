"""services.figures on sessions stored in a real SQLite store: PNG sizes and modes, the space of an
aggregate, and "nothing to draw" errors that say why."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from gazescope.errors import ValidationError
from gazescope.services import figures
from gazescope.services.sessions import load_session
from support.gaze_plans import AOIS, LEFT, RIGHT, H, W


def image(png: bytes) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(png)) as im:
        return im.mode, im.size


@pytest.mark.parametrize("kind", ["heatmap", "scanpath", "trail"])
def test_one_sessions_figures_are_drawn_on_its_screen(store, make_session, kind) -> None:
    make_session("s1", [LEFT, RIGHT])
    png = figures.session_figure_png(load_session(store, "s1"), None, kind)
    assert image(png)[1] == (W, H)


def test_a_heatmap_on_the_stimulus_or_transparent(store, make_session, make_stimulus, screen_png) -> None:
    stim = make_stimulus(screen_png, AOIS)
    make_session("s1", [LEFT, RIGHT], stimulus_id=stim.id)
    data = load_session(store, "s1")
    assert image(figures.session_figure_png(data, stim, "heatmap", overlay=True))[1] == (W, H)
    mode, size = image(figures.session_figure_png(data, stim, "heatmap", transparent=True))
    assert mode == "RGBA" and size == (W, H)
    mode, _ = image(figures.session_figure_png(data, None, "heatmap"))
    assert mode == "RGB"  # on white


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        pytest.param({"overlay": True, "transparent": True}, "invalid_request", id="overlay-and-transparent"),
        pytest.param({"overlay": True}, "no_stimulus", id="overlay-without-stimulus"),
    ],
)
def test_contradictory_requests_are_refused(store, make_session, kw, code) -> None:
    make_session("s1", [LEFT])
    with pytest.raises(ValidationError) as err:
        figures.session_figure_png(load_session(store, "s1"), None, "heatmap", **kw)
    assert err.value.code == code


def test_nothing_to_draw_says_why(store, make_session) -> None:
    make_session("empty")
    with pytest.raises(ValidationError) as err:
        figures.session_figure_png(load_session(store, "empty"), None, "heatmap")
    assert err.value.code == "no_gaze" and "calibrate" in err.value.message
    make_session("noscreen", [LEFT], screen_w_px=None, screen_h_px=None)
    data = load_session(store, "noscreen")
    assert data.screen_size_px is None
    with pytest.raises(ValidationError) as err:
        figures.session_figure_png(data, None, "heatmap")
    assert err.value.code == "no_screen_size"


def test_an_aggregate_counts_the_sessions_with_gaze(store, make_session) -> None:
    make_session("a", [LEFT])
    make_session("b", [RIGHT, LEFT])
    make_session("c")
    datas = [load_session(store, s) for s in ("a", "b", "c")]
    png, n = figures.aggregate_heatmap_png(datas, space=figures.common_screen(datas))
    assert n == 2 and image(png) == ("RGB", (W, H))
    with pytest.raises(ValidationError) as err:
        figures.aggregate_heatmap_png(datas[2:], space=(W, H))
    assert err.value.code == "no_gaze"


def test_the_common_screen_is_the_most_frequent_then_the_larger(store, make_session) -> None:
    make_session("a", [LEFT], screen_w_px=1280, screen_h_px=720)
    make_session("b", [LEFT], screen_w_px=800, screen_h_px=600)
    make_session("c", [LEFT], screen_w_px=800, screen_h_px=600)
    datas = [load_session(store, s) for s in "abc"]
    assert figures.common_screen(datas) == (800.0, 600.0)
    assert figures.common_screen(datas[:2]) == (1280.0, 720.0)
    make_session("d", screen_w_px=None, screen_h_px=None)
    with pytest.raises(ValidationError) as err:
        figures.common_screen([load_session(store, "d")])
    assert err.value.code == "no_screen_size"


def test_an_aggregate_is_drawn_in_the_stimulus_else_the_common_screen(
    store, make_session, make_stimulus, screen_png
) -> None:
    """One rule for the space of every aggregate heatmap (REST, CLI, reports): ``aggregate_space``."""
    make_session("a", [LEFT], screen_w_px=1280, screen_h_px=720)
    make_session("b", [RIGHT], screen_w_px=800, screen_h_px=600)
    make_session("c", [LEFT, RIGHT], screen_w_px=800, screen_h_px=600)
    datas = [load_session(store, s) for s in "abc"]
    assert figures.aggregate_space(datas, None) == (800.0, 600.0)
    png, n = figures.aggregate_heatmap_png(datas)
    assert n == 3 and image(png)[1] == (800, 600)
    stim = make_stimulus(screen_png, AOIS)
    assert figures.aggregate_space(datas, stim) == stim.size_px == (W, H)
    assert image(figures.aggregate_heatmap_png(datas, stim=stim)[0])[1] == (W, H)
    make_session("d", [LEFT], screen_w_px=None, screen_h_px=None)
    with pytest.raises(ValidationError) as err:
        figures.aggregate_heatmap_png([load_session(store, "d")])
    assert err.value.code == "no_screen_size"


def test_the_heatmap_caption_names_the_kernel_and_its_source() -> None:
    assert figures.heatmap_title("fixations", 12, 1, 37.6, 80.2) == (
        "Heatmap: 12 fixations, duration-weighted; σ = 38 px (accuracy 80 px)"
    )
    assert figures.heatmap_title("samples", 5, 3, 50.0, None) == (
        "Heatmap: 3 sessions, 5 gaze samples, time-weighted; σ = 50 px (default accuracy)"
    )
