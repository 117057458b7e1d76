"""services.videos on a real SQLite store and a real recording (hamilton_clip_640x360.mp4): storing a video
stimulus, who watched it, the report and the heatmap of one moment; overlay files and their cache bound."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from gazescope.errors import NotFoundError, ValidationError
from gazescope.services import videos
from gazescope.services.stimuli import StimulusData
from gazescope.services.videos import evict_overlays, overlay_window_s
from gazescope.storage.video_files import VideoFiles
from support.gaze_plans import LEFT, RIGHT


@pytest.fixture
def video(store, data_dir: Path, tmp_path: Path) -> tuple[StimulusData, VideoFiles]:
    """The real clip stored as a video stimulus, with its file."""
    data = (data_dir / "videos" / "hamilton_clip_640x360.mp4").read_bytes()
    files = VideoFiles(tmp_path / "videos")
    path = files.write("clip", "mp4", data)
    info, poster = videos.inspect_video_file(path, max_width=1920, max_height=1080)
    doc = videos.video_stimulus_doc("clip", None, "mp4", len(data), info)
    videos.store_video_stimulus(store, doc, data, poster)
    return videos.load_video(store, "clip"), files


def watch(store, make_session, sid: str, plan) -> None:
    """A session whose gaze points were recorded while the clip played from its start."""
    make_session(sid, plan)
    samples = store.get_samples(sid)
    store.delete_session(sid)
    make_session(sid)
    store.append_samples(
        sid, [{**s, "stimulus_id": "clip", "video_t_s": s["t_ms"] / 1000.0} for s in samples]
    )
    videos.record_video_view(store, sid, "clip")


def test_a_video_stimulus_is_stored_and_listed(store, video) -> None:
    stim, _ = video
    assert stim.size_px == (640.0, 360.0) and stim.doc["frame_count"] > 200 and stim.doc["kind"] == "video"
    assert videos.is_video(stim.doc) and videos.media_type(stim.doc) == "video/mp4"
    assert [d["id"] for d in videos.list_videos(store)] == ["clip"]
    assert store.get_blob("stimuli/clip/image").startswith(b"\xff\xd8")  # the poster, a JPEG


def test_an_image_stimulus_is_not_a_video(store, make_stimulus, screen_png) -> None:
    stim = make_stimulus(screen_png)
    assert videos.list_videos(store) == [] and not videos.is_video(stim.doc)
    with pytest.raises(ValidationError) as err:
        videos.load_video(store, stim.id)
    assert err.value.code == "not_a_video"
    with pytest.raises(NotFoundError):
        videos.load_video(store, "ghost")


def test_viewers_report_and_the_heatmap_of_a_moment(store, make_session, video) -> None:
    stim, files = video
    watch(store, make_session, "a", [LEFT, RIGHT])
    watch(store, make_session, "b", [LEFT])
    videos.record_video_view(store, "a", "clip")  # idempotent
    assert sorted(videos.sessions_watching(store, "clip")) == ["a", "b"]
    viewers = videos.load_viewers(store, stim)
    assert sorted(v.session_id for v in viewers) == ["a", "b"] and all(v.has_gaze for v in viewers)
    assert [v.session_id for v in videos.load_viewers(store, stim, ["b"])] == ["b"]
    rep = videos.video_report(stim, viewers, window_s=0.5)
    assert rep["n_sessions"] == 2 and rep["windows"] and rep["duration_s"] > 9
    png = videos.moment_heatmap_png(stim, files.ensure(store, "clip", "mp4"), viewers, 0.2, 0.4)
    with Image.open(io.BytesIO(png)) as im:
        assert im.size == (640, 360)
    with pytest.raises(ValidationError, match="t_s must be within"):
        videos.moment_heatmap_png(stim, files.ensure(store, "clip", "mp4"), viewers, 1e6, 1.0)


def test_no_gaze_and_too_long_videos_render_no_overlay(store, make_session, video) -> None:
    stim, files = video
    make_session("blind")
    videos.record_video_view(store, "blind", "clip")
    with pytest.raises(ValidationError) as err:
        videos.overlay_file(files, store, stim, videos.load_viewers(store, stim))
    assert err.value.code == "no_gaze"
    watch(store, make_session, "a", [LEFT])
    viewers = videos.load_viewers(store, stim)
    with pytest.raises(ValidationError) as err:
        videos.overlay_file(files, store, stim, viewers, max_frames=10)
    assert err.value.code == "video_too_long"
    one = videos.overlay_path(files, stim, viewers, "heatmap", 1.0)
    assert one == videos.overlay_path(
        files, stim, viewers, "heatmap", 1.04
    )  # one render for nearly equal windows
    assert one != videos.overlay_path(files, stim, viewers, "points", 1.0)


@pytest.mark.parametrize(
    ("window_s", "expected"),
    [
        pytest.param(1.0, 1.0, id="exact"),
        pytest.param(1.000001, 1.0, id="nearly-equal-shares-the-render"),
        pytest.param(1.26, 1.3, id="rounded-to-0.1"),
        pytest.param(0.01, 0.1, id="clamped-low"),
        pytest.param(500.0, 30.0, id="clamped-high"),
    ],
)
def test_overlay_windows_are_quantised(window_s: float, expected: float) -> None:
    assert overlay_window_s(window_s) == expected


def test_the_least_recently_used_overlays_beyond_the_bound_are_deleted(tmp_path: Path) -> None:
    names = ["old.mp4", "mid.mp4", "new.mp4", "kept.mp4"]
    for k, name in enumerate(names):
        p = tmp_path / name
        p.write_bytes(b"x" * 100)
        os.utime(p, (1000 + k, 1000 + k))
    (tmp_path / ".new.abc.part.mp4").write_bytes(b"x" * 500)  # a render in progress
    os.utime(tmp_path / "old.mp4", (2000, 2000))  # a cache hit made it the most recently used

    deleted = evict_overlays(tmp_path, 250, keep=tmp_path / "kept.mp4")
    assert sorted(p.name for p in deleted) == ["mid.mp4", "new.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".new.abc.part.mp4", "kept.mp4", "old.mp4"]
