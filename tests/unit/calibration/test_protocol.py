"""The calibration controller through its public interface, on an in-memory host with a real SQLite store
and synthetic Face Mesh features: a grid calibration fitted, saved, applied and recorded; targets taking
effect from the next frame; pursuit indices; refusals with their codes; profiles reused; drift checks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gazescope.calibration import choreography
from gazescope.calibration.messages import (
    CalibrationApplied,
    CalibrationCancelled,
    CalibrationKept,
    CalibrationProgress,
    CalibrationResultOut,
    CalibrationStarted,
    DriftResult,
    DriftStarted,
    ErrorReply,
    Reply,
)
from gazescope.calibration.profile import FittedCalibration
from gazescope.calibration.profiles import session_profile
from gazescope.calibration.protocol import CalibrationController
from gazescope.config import Settings
from gazescope.domain import FrameFeatures, GazeSample, SessionInfo
from gazescope.errors import CalibrationError, GazescopeError, ProfileNotFoundError, ValidationError
from gazescope.storage.profiles import ProfileRepository
from gazescope.storage.sqlite import SQLiteStore

T = TypeVar("T")
W, H = 1600, 900


class Host:
    """A tracking stream without a transport: frames are numbered by the test, replies collected."""

    def __init__(self, store: SQLiteStore, session: SessionInfo, settings: Settings) -> None:
        self.store = store
        self.session = session
        self.session_id = session.id
        self.settings = settings
        self.frame_index = 0
        self.ending = False
        self.landmarks_only = False
        self.calibration: FittedCalibration | None = None
        self.sent: list[Reply] = []
        self.events: list[str] = []
        self.fits = 0

    @property
    def next_frame_index(self) -> int:
        return self.frame_index

    def set_calibration(self, calibration: FittedCalibration | None) -> None:
        self.calibration = calibration

    def update_session(self, **fields: Any) -> SessionInfo:
        return self.store.update_session(self.session_id, **fields)

    async def cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    io = cpu

    def reserve_fit(self) -> bool:
        if self.fits >= self.settings.calibration_fit_threads:
            return False
        self.fits += 1
        return True

    def release_fit(self) -> None:
        self.fits -= 1

    async def fit(self, fn: Callable[..., T], *args: Any, cancel: threading.Event, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        finally:
            self.release_fit()

    async def send(self, reply: Reply) -> None:
        self.sent.append(reply)

    def event(self, name: str, **fields: Any) -> None:
        self.events.append(name)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "protocol.db")
    yield s
    s.close()


def make_host(store: SQLiteStore, **session: Any) -> Host:
    info = store.create_session(SessionInfo(id=session.pop("id", "s1"), created_at_ms=1.0, **session))
    return Host(store, info, Settings(calibration_settle_ms=0.0, calibration_samples_per_target=3))


def frames(ctl: CalibrationController, host: Host, ff: FrameFeatures, n: int, t0: float) -> list[Reply]:
    """``n`` frames of ``ff`` as the worker would process them (numbered from the host's counter)."""
    out = []
    for k in range(n):
        sample = GazeSample(t_ms=t0 + 33.0 * k, frame_index=host.frame_index, face_detected=True)
        host.frame_index += 1
        out += ctl.observe(ff, sample, None)
    return out


async def finished(ctl: CalibrationController, host: Host) -> Reply:
    await ctl.handle("calibration_finish", {})
    for _ in range(6000):  # a generous bound (60 s), not a timing: fits are slow on a loaded machine
        if host.sent:
            return host.sent.pop()
        await asyncio.sleep(0.01)
    raise AssertionError("no reply to calibration_finish")


async def calibrate(
    ctl: CalibrationController, host: Host, make_ff, gaze_of, **start: Any
) -> CalibrationResultOut:
    started = await ctl.handle("calibration_start", {"layout": "9", **start})
    assert isinstance(started, CalibrationStarted)
    t = 0.0
    for target in started.targets:
        await ctl.handle("calibration_target", {"index": target.index})
        frames(ctl, host, make_ff(*gaze_of(target.x_px, target.y_px, W, H)), 5, t)
        t += 1000.0
    result = await finished(ctl, host)
    assert isinstance(result, CalibrationResultOut), result
    return result


async def test_a_grid_calibration_is_fitted_saved_applied_and_recorded(store, make_ff, gaze_of) -> None:
    host = make_host(store, user_id="ana", screen_w_px=W, screen_h_px=H)
    ctl = CalibrationController(host, ProfileRepository(store))
    started = await ctl.handle("calibration_start", {"layout": "9"})
    assert isinstance(started, CalibrationStarted)
    assert (started.screen_w_px, started.screen_h_px, started.user_id, started.save) == (W, H, "ana", True)
    assert len(started.targets) == 13 and sum(t.validation for t in started.targets) == 4
    assert started.samples_per_target == 3 and "clamped" not in started.to_wire()

    await ctl.handle("calibration_target", {"index": 0})
    x, y = started.targets[0].x_px, started.targets[0].y_px
    replies = frames(ctl, host, make_ff(*gaze_of(x, y, W, H)), 5, 0.0)
    progress = [r for r in replies if isinstance(r, CalibrationProgress)]
    assert [p.samples for p in progress] == [0, 1, 2, 3]  # shown, then each usable sample until done
    assert progress[-1].done and progress[-1].index == 0

    ctl.clear()
    result = await calibrate(ctl, host, make_ff, gaze_of)
    assert result.profile_id == result.calibration_id and result.grade == "good"
    assert (
        result.accuracy["validation_source"] == "validation" and result.accuracy["n_validation_points"] == 4
    )
    assert result.accuracy["n_sittings"] == 1 and result.accuracy["pooled_loo_px"] is None
    assert {p.index for p in result.points} == {9, 10, 11, 12} and all(p.validation for p in result.points)
    assert host.calibration is not None and host.calibration.profile_id == result.profile_id
    repo = ProfileRepository(store)
    assert repo.get(result.profile_id).user_id == "ana"
    assert store.get_session("s1").calibration_id == result.profile_id
    assert [r["kind"] for r in repo.records("s1")] == ["calibration"]

    # a second sitting of the same user is pooled with the first
    again = await calibrate(ctl, host, make_ff, gaze_of)
    assert again.accuracy["n_sittings"] == 2 and again.accuracy["pooled_loo_px"] is not None


async def test_a_target_counts_from_the_first_frame_received_after_it(store, make_ff, gaze_of) -> None:
    host = make_host(store, screen_w_px=W, screen_h_px=H)
    ctl = CalibrationController(host, ProfileRepository(store))
    await ctl.handle("calibration_start", {"samples_per_target": 1})
    await ctl.handle("calibration_target", {"index": 0})
    host.frame_index += 2  # two frames on their way, received before the next announcement
    await ctl.handle("calibration_target", {"index": 1})
    host.frame_index -= 2
    replies = frames(ctl, host, make_ff(0.0, 0.0), 3, 0.0)
    shown = [(r.index, r.samples) for r in replies if isinstance(r, CalibrationProgress)]
    assert shown == [(0, 0), (0, 1), (1, 0), (1, 1)]


async def test_pursuit_targets_map_path_indices(store) -> None:
    host = make_host(store)
    ctl = CalibrationController(host, ProfileRepository(store))
    body = {"layout": "pursuit", "screen_w_px": 1000, "screen_h_px": 500, "duration_ms": 2000, "rate_hz": 10}
    started = await ctl.handle("calibration_start", body)
    assert isinstance(started, CalibrationStarted)
    assert [t.index for t in started.targets] == list(range(21)) and started.samples_per_target == 1
    assert [t.validation for t in started.targets].count(True) == 4
    assert started.targets[-1].t_ms == pytest.approx(2000)
    await ctl.handle("calibration_target", {"index": 20})
    with pytest.raises(ValidationError, match=r"0\.\.20"):
        await ctl.handle("calibration_target", {"index": 21})


async def test_an_appearance_mapper_is_refused_when_the_stream_sends_landmarks(store) -> None:
    """Issue 22: landmarks carry no eye pixels, so ``cnn`` is refused at calibration_start (the message
    names the landmark mappers); ridge starts, and cnn does once the stream sends frames again."""
    host = make_host(store, screen_w_px=W, screen_h_px=H)
    ctl = CalibrationController(host, ProfileRepository(store))
    host.landmarks_only = True
    with pytest.raises(GazescopeError) as err:
        await ctl.handle("calibration_start", {"mapper": "cnn"})
    assert err.value.code == "mapper_needs_frames" and "ridge" in err.value.message
    assert ctl.choreography.running is None
    assert isinstance(await ctl.handle("calibration_start", {"mapper": "ridge"}), CalibrationStarted)
    host.landmarks_only = False
    started = await ctl.handle("calibration_start", {"mapper": "cnn"})
    assert isinstance(started, CalibrationStarted) and started.mapper == "cnn"


async def test_refusals_keep_their_codes(store, monkeypatch) -> None:
    host = make_host(store)
    ctl = CalibrationController(host, ProfileRepository(store))

    async def code(message_type: str, body: dict[str, Any] | None = None) -> str:
        with pytest.raises(GazescopeError) as err:
            await ctl.handle(message_type, body or {})
        return err.value.code

    assert await code("calibration_start") == "invalid_request"  # no screen size anywhere
    assert await code("calibration_start", {"screen_w_px": 800, "screen_h_px": 600, "mapper": "nope"}) == (
        "unknown_mapper"
    )
    assert await code("calibration_finish") == "no_calibration"
    assert await code("calibration_target", {"index": 0}) == "no_calibration"
    assert await code("drift_start", {"x_px": 1, "y_px": 1}) == "not_calibrated"
    assert await code("drift_finish") == "no_drift_check"
    assert await code("calibration_use", {"profile_id": "missing"}) == "profile_not_found"
    assert await code("calibration_use", {"user_id": "nobody"}) == "profile_not_found"

    await ctl.handle("calibration_start", {"screen_w_px": 800, "screen_h_px": 600})
    assert await code("calibration_target", {"x_px": 5000, "y_px": 10}) == "invalid_request"
    assert await code("calibration_target", {}) == "invalid_request"
    err = await finished(ctl, host)  # sent when the fit fails; the calibration stays open
    assert isinstance(err, ErrorReply) and err.code == "not_enough_data" and "at least" in err.message
    monkeypatch.setattr(choreography, "MAX_PENDING_TARGETS", 2)
    await ctl.handle("calibration_target", {"index": 0})
    await ctl.handle("calibration_target", {"index": 1})
    with pytest.raises(ValidationError, match="too many targets"):
        await ctl.handle("calibration_target", {"index": 2})
    host.fits = host.settings.calibration_fit_threads  # every fit slot is taken
    assert await code("calibration_finish") == "server_busy"
    cancelled = await ctl.handle("calibration_cancel", {})
    assert isinstance(cancelled, CalibrationCancelled) and cancelled.calibration_id is not None


async def test_profiles_are_reused_and_drift_is_checked(store, make_ff, gaze_of) -> None:
    host = make_host(store, user_id="bo", screen_w_px=W, screen_h_px=H)
    first = CalibrationController(host, ProfileRepository(store))
    result = await calibrate(first, host, make_ff, gaze_of)

    later = make_host(store, id="s2", user_id="bo", screen_w_px=1280, screen_h_px=800)
    found = session_profile(ProfileRepository(store), later.session)
    assert found is not None and (found[0].id, found[1]) == (result.profile_id, "session_user_id")
    ctl = CalibrationController(later, ProfileRepository(store))
    applied = await ctl.apply_profile(*found)
    assert isinstance(applied, CalibrationApplied) and "1600x900" in (applied.warning or "")
    assert later.calibration is not None and store.get_session("s2").calibration_id == result.profile_id
    applied = await ctl.handle("calibration_use", {"user_id": "bo"})
    assert isinstance(applied, CalibrationApplied) and applied.source == "calibration_use"

    started = await ctl.handle("drift_start", {"x_px": 400, "y_px": 300, "settle_ms": 0})
    assert isinstance(started, DriftStarted) and started.x_px == 400
    with pytest.raises(ValidationError, match="off the"):
        await ctl.handle("drift_start", {"x_px": 4000, "y_px": 300})
    with pytest.raises(GazescopeError) as err:
        await ctl.handle("drift_finish", {})  # no frames yet: the check stays open
    assert err.value.code == "not_enough_data"
    frames(ctl, later, make_ff(*gaze_of(400, 300, W, H)), 5, 0.0)
    drift = await ctl.handle("drift_finish", {})
    assert isinstance(drift, DriftResult) and drift.n_samples == 5 and not drift.recalibrate
    assert drift.profile_id == result.profile_id
    kinds = sorted(r["kind"] for r in ProfileRepository(store).records("s2"))
    assert kinds == ["applied", "applied", "drift"]


async def calibrate_poorly(ctl: CalibrationController, host: Host, make_ff, gaze_of) -> CalibrationResultOut:
    """A 9-point calibration whose person looked at the mirrored point (W - x, H - y) while each validation
    dot was shown: the fit is fine, its validation error about 46 % of the width (a poor calibration)."""
    started = await ctl.handle("calibration_start", {"layout": "9"})
    assert isinstance(started, CalibrationStarted)
    for k, target in enumerate(started.targets):
        x, y = target.x_px, target.y_px
        if target.validation:
            x, y = W - x, H - y
        await ctl.handle("calibration_target", {"index": target.index})
        frames(ctl, host, make_ff(*gaze_of(x, y, W, H)), 5, 1000.0 * k)
    result = await finished(ctl, host)
    assert isinstance(result, CalibrationResultOut), result
    return result


async def test_a_calibration_failing_the_quality_gate_is_not_reused_until_kept(
    store, make_ff, gaze_of
) -> None:
    host = make_host(store, user_id="cy", screen_w_px=W, screen_h_px=H)
    ctl = CalibrationController(host, ProfileRepository(store))
    repo = ProfileRepository(store)
    later = SessionInfo(id="later", created_at_ms=2.0, user_id="cy", screen_w_px=W, screen_h_px=H)

    poor = await calibrate_poorly(ctl, host, make_ff, gaze_of)
    limit = host.settings.calibration_max_error_pct_width
    assert poor.quality.max_error_pct_width == limit and poor.quality.error_pct_width is not None
    assert poor.quality.error_pct_width > limit and not poor.quality.passed and poor.accepted is False
    assert poor.to_wire()["quality"]["passed"] is False and poor.to_wire()["accepted"] is False
    assert poor.profile_id is not None and repo.get(poor.profile_id).accepted is False
    assert host.calibration is not None and host.calibration.profile_id == poor.profile_id  # this stream
    assert session_profile(repo, later) is None  # a later session of the user does not reuse it
    with pytest.raises(ProfileNotFoundError):
        await ctl.handle("calibration_use", {"user_id": "cy"})

    good = await calibrate(ctl, host, make_ff, gaze_of)
    assert good.quality.passed and good.accepted and repo.get(good.profile_id).accepted
    assert good.accuracy["n_sittings"] == 1  # the poor sitting was not pooled in
    found = session_profile(repo, later)
    assert found is not None and found[0].id == good.profile_id

    kept_one = await calibrate_poorly(ctl, host, make_ff, gaze_of)
    assert kept_one.accuracy["n_sittings"] == 2  # pooled with the good one, still gated on its own error
    assert not kept_one.accepted and session_profile(repo, later)[0].id == good.profile_id  # type: ignore[index]
    kept = await ctl.handle("calibration_keep", {})  # the stream's last saved calibration
    assert isinstance(kept, CalibrationKept) and kept.to_wire() == {
        "type": "calibration_kept",
        "profile_id": kept_one.profile_id,
        "accepted": True,
    }
    found = session_profile(repo, later)
    assert found is not None and found[0].id == kept_one.profile_id
    applied = await ctl.apply_profile(*found)
    assert isinstance(applied, CalibrationApplied) and applied.accepted is True
    # keep by id, and the refusals
    again = await ctl.handle("calibration_keep", {"profile_id": poor.profile_id})
    assert isinstance(again, CalibrationKept) and repo.get(poor.profile_id).accepted is True
    with pytest.raises(ProfileNotFoundError):
        await ctl.handle("calibration_keep", {"profile_id": "missing"})
    fresh = CalibrationController(make_host(store, id="s3"), repo)
    with pytest.raises(CalibrationError) as err:
        await fresh.handle("calibration_keep", {})
    assert err.value.code == "no_calibration"
    records = [r for r in repo.records("s1") if r["kind"] == "calibration"]
    # the store lists a session's records in any order (ProfileRepository.records)
    assert {r["profile_id"]: r["accepted"] for r in records} == {
        poor.profile_id: False,
        good.profile_id: True,
        kept_one.profile_id: False,
    }
    assert len(records) == 3


async def test_the_gate_threshold_comes_from_the_settings(store, make_ff, gaze_of) -> None:
    host = make_host(store, user_id="di", screen_w_px=W, screen_h_px=H)
    host.settings = Settings(
        calibration_settle_ms=0.0, calibration_samples_per_target=3, calibration_max_error_pct_width=60.0
    )
    ctl = CalibrationController(host, ProfileRepository(store))
    result = await calibrate_poorly(ctl, host, make_ff, gaze_of)
    assert result.quality.max_error_pct_width == 60.0 and result.quality.passed and result.accepted


def test_session_profile_by_calibration_id(store) -> None:
    repo = ProfileRepository(store)
    info = SessionInfo(id="s", created_at_ms=1.0, calibration_id="gone")
    with pytest.raises(ProfileNotFoundError):
        session_profile(repo, info)
    assert session_profile(repo, SessionInfo(id="s", created_at_ms=1.0)) is None
    assert session_profile(repo, SessionInfo(id="s", created_at_ms=1.0, user_id="nobody")) is None


async def test_closing_drops_the_calibration_and_a_finished_stream_records_nothing(
    store, make_ff, gaze_of
) -> None:
    host = make_host(store, screen_w_px=W, screen_h_px=H)
    ctl = CalibrationController(host, ProfileRepository(store))
    await ctl.handle("calibration_start", {})
    await ctl.close()
    with pytest.raises(CalibrationError) as err:
        await ctl.handle("calibration_finish", {})
    assert err.value.code == "no_calibration"
    host.ending = True
    result_host_sent = host.sent
    await ctl.handle("calibration_start", {"samples_per_target": 1})
    for i in range(13):
        await ctl.handle("calibration_target", {"index": i})
        frames(ctl, host, make_ff(0.01 * i, 0.0), 2, 1000.0 * i)
    await ctl.handle("calibration_finish", {})
    for _ in range(6000):
        if "calibration_fit_dropped" in host.events:
            break
        await asyncio.sleep(0.01)
    assert "calibration_fit_dropped" in host.events and result_host_sent == []
    assert ProfileRepository(store).records("s1") == []


async def test_a_target_the_session_refuses_is_answered_from_the_frame(store, make_ff, monkeypatch) -> None:
    from gazescope.calibration import session

    monkeypatch.setattr(session, "MAX_CUSTOM_TARGETS", 1)
    host = make_host(store, screen_w_px=W, screen_h_px=H)
    ctl = CalibrationController(host, ProfileRepository(store))
    await ctl.handle("calibration_start", {})
    await ctl.handle("calibration_target", {"x_px": 10, "y_px": 10})
    await ctl.handle("calibration_target", {"x_px": 900, "y_px": 700})
    replies = frames(ctl, host, make_ff(0.0, 0.0), 1, 0.0)
    errors = [r for r in replies if isinstance(r, ErrorReply)]
    assert (
        len(errors) == 1 and errors[0].code == "invalid_request" and "too many targets" in errors[0].message
    )
    assert errors[0].to_wire() == {"code": "invalid_request", "message": errors[0].message}
