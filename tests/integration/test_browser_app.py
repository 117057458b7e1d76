"""The browser app (/app/) in real Chromium against a real ``gazescope serve``, with a fake camera playing
the desk webcam video (``--use-file-for-fake-video-capture``).

Flows: start (consent, camera) -> live samples (metrics, eye overlay) -> calibration (the test waits as the
app steps through the targets; the fake camera does not look at them, so any grade is accepted) -> gaze
dot on screen -> observer page -> end -> report with heatmap -> dashboard; a server restart mid-session
(the page reconnects with backoff to the same session); stimulus upload and recording with an aggregate
heatmap; the API token field; camera errors explained. Every page must log no console error.

Screenshots go to ``test-artifacts/browser/`` at the repo root (gitignored), at 1280x720 and 1920x1080.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
SMALL = {"width": 1280, "height": 720}
LARGE = {"width": 1920, "height": 1080}
BASE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# --------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def fake_camera(tmp_path_factory: pytest.TempPathFactory, desk_video: Path) -> Path:
    """The desk video as a Y4M file for Chromium's fake camera (converted once, in a pytest tmp dir)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed (needed to make the fake camera's Y4M file)")
    out = tmp_path_factory.mktemp("camera") / "cam.y4m"
    subprocess.run(
        [ffmpeg, "-loglevel", "error", "-y", "-i", str(desk_video), "-pix_fmt", "yuv420p", str(out)],
        check=True,
        timeout=300,
    )
    return out


@pytest.fixture(scope="module")  # the sync API runs an event loop: it must stop with this module
def playwright_driver() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright_driver: Any, fake_camera: Path) -> Iterator[Any]:
    """Chromium with a fake camera that plays the desk video and grants camera access."""
    b = playwright_driver.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={fake_camera}",
            *BASE_ARGS,
        ],
    )
    yield b
    b.close()


class Pages:
    """Opens pages that record console errors and page errors; checked when the test ends."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.contexts: list[Any] = []
        self.errors: list[str] = []

    def open(self, url: str, viewport: dict[str, int] = SMALL, mode: str | None = "server") -> Any:
        """A new page at ``url``; ``mode`` is the tracking mode the user has chosen ("server": camera
        frames, as these tests expect; "device": Face Mesh in the page; None: the app's default)."""
        ctx = self.browser.new_context(viewport=viewport)
        if mode is not None:
            ctx.add_init_script(f"localStorage.setItem('gazescope.trackingMode', '{mode}')")
        self.contexts.append(ctx)
        page = ctx.new_page()
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on(
            "response",
            lambda r: (
                self.errors.append(f"HTTP {r.status}: {r.request.method} {r.url}")
                if r.status >= 400
                else None
            ),
        )
        page.goto(url)
        page.wait_for_selector("body[data-view]", state="attached")
        return page

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


@pytest.fixture
def pages(browser: Any) -> Iterator[Pages]:
    p = Pages(browser)
    yield p
    p.close()
    assert p.errors == [], "console errors in the app:\n" + "\n".join(p.errors)


def shot(page: Any, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot as test-artifacts/browser/<name>_<w>x<h>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    vp = page.viewport_size
    path = ARTIFACTS / f"{name}_{vp['width']}x{vp['height']}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def samples_seen(page: Any) -> int:
    return int(page.eval_on_selector("#m-samples", "e => Number(e.dataset.count || 0)"))


def start_tracking(page: Any, user_id: str, label: str = "", screenshot: str | None = None) -> str:
    """Consent, start the camera and a session; wait for samples; return the session id."""
    page.fill("#user-id", user_id)
    if label:
        page.fill("#label", label)
    page.check("#consent")
    page.click("#camera-start")
    page.wait_for_selector("#session-start:enabled", timeout=20_000)
    if screenshot:
        page.wait_for_timeout(300)
        shot(page, screenshot)
    page.click("#session-start")
    page.wait_for_selector("#conn-state[data-state='connected']", timeout=20_000)
    page.wait_for_function(
        "Number(document.querySelector('#m-samples').dataset.count || 0) >= 15", timeout=60_000
    )
    return page.inner_text("#session-id").strip()


def calibrate(page: Any, layout: str) -> str:
    """Run a calibration from the live view and wait while the app steps through every target (each ends
    when the server says it is done, or after the app's timeout); return the final phase ("result" or
    "error")."""
    page.select_option("#cal-layout", layout)
    page.click("#calibrate")
    page.wait_for_selector("#calibration[data-phase='target']", timeout=20_000)
    n = int(page.get_attribute("#calibration", "data-targets"))
    assert n >= int(layout)
    page.wait_for_selector(
        "#calibration[data-phase='result'], #calibration[data-phase='error']", timeout=15_000 * n
    )
    shown = page.get_attribute("#calibration", "data-shown").split(",")
    assert len(shown) == len(set(shown)) == n, f"targets shown: {shown} of {n}"
    outcomes = page.get_attribute("#calibration", "data-outcomes")
    assert len(outcomes) == n and set(outcomes) <= {"d", "t"}  # done, or timed out
    return page.get_attribute("#calibration", "data-phase")


# --------------------------------------------------------------------------------------------------
# tests


def test_browser_track_calibrate_review(server: Any, pages: Pages) -> None:
    """The whole flow at 1280x720 (and its pages again at 1920x1080)."""
    page = pages.open(server.url + "/")  # a browser at / is sent to /app/
    assert page.url.endswith("/app/")
    sent: list[Any] = []
    page.on(
        "websocket",
        lambda ws: (
            ws.on("framesent", lambda payload: sent.append(payload)) if ws.url.endswith("/track") else None
        ),
    )
    assert "never stored" in page.inner_text(".consent")
    shot(page, "01_start")

    session_id = start_tracking(page, "browser-user", "browser test", screenshot="01_camera_on")
    # live metrics update from the samples
    first = samples_seen(page)
    page.wait_for_function(f"Number(document.querySelector('#m-samples').dataset.count) > {first + 10}")
    assert page.inner_text("#m-state") in {"focused", "looking away", "eyes closed", "drowsy", "absent"}
    assert page.inner_text("#m-latency").endswith("ms")
    assert float(page.inner_text("#m-fps")) > 0
    assert page.inner_text("#m-dropped")
    page.wait_for_selector("#overlay[data-pupils='2']", timeout=20_000)  # the desk video shows a face
    shot(page, "02_live")
    # frames go as binary JPEG of the default size, at most two unanswered at a time
    frames = [p for p in sent if isinstance(p, bytes)]
    assert len(frames) >= 15 and all(f[:2] == b"\xff\xd8" for f in frames)
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(frames[-1], np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (480, 640, 3)
    assert 1 <= page.evaluate("window.gazescope.client.stats.maxInFlight") <= 2
    # focus alert: attention below a (here unreachable) threshold for 1 s
    page.click("#settings-toggle")
    page.fill("#alert-threshold", "1")
    page.fill("#alert-seconds", "1")
    page.wait_for_selector("#alert:not([hidden])", timeout=20_000)
    assert "Attention has been low" in page.inner_text("#alert")
    shot(page, "02_live_focus_alert", full_page=True)
    page.fill("#alert-threshold", "0")
    page.fill("#alert-seconds", "300")
    page.click("#settings-toggle")

    # an observer sees the live samples
    obs = pages.open(f"{server.url}/app/#/observe/{session_id}", LARGE)
    obs.wait_for_function("Number(document.querySelector('#o-samples').textContent) > 5", timeout=30_000)
    assert obs.get_attribute("#obs-state", "data-state") == "connected"
    shot(obs, "03_observer")

    # calibration: 9 targets (plus validation targets), any grade
    phase = calibrate(page, "9")
    shot(page, "04_calibration_result")
    assert phase == "result", page.inner_text("#cal-summary")
    assert page.inner_text("#cal-grade").lower() in {"good", "fair", "poor"}
    assert "mean error" in page.inner_text("#cal-summary")
    assert "Saved as profile" in page.inner_text("#cal-profile")
    page.click("#cal-done")
    assert page.is_hidden("#calibration")
    # the gaze dot follows screen_x_px / screen_y_px
    page.wait_for_function(
        "Number(document.querySelector('#gaze-canvas').dataset.points || 0) > 10", timeout=30_000
    )
    assert page.get_attribute("#gaze-canvas", "data-x") is not None
    assert page.inner_text("#m-calibration") != "none"
    shot(page, "05_live_gaze")
    obs.wait_for_function("document.querySelector('#obs-meta').textContent.includes('streaming')")
    shot(obs, "06_observer_gaze")

    # the profile is stored for the user
    profiles = httpx.get(f"{server.url}/api/profiles", params={"user_id": "browser-user"}).json()
    assert profiles, "the calibration profile was not saved"

    # end -> report
    page.click("#session-end")
    page.wait_for_selector("#view-report[data-loaded='1']", timeout=60_000)
    assert page.get_attribute("#view-report", "data-session") == session_id
    assert page.get_attribute("#conn-state", "data-state") == "ended"
    assert page.get_attribute("#view-report", "data-has-gaze") == "true"
    page.wait_for_function(
        "(() => { const i = document.querySelector('#report-heatmap img'); return i && i.complete && i.naturalWidth > 0; })()",
        timeout=30_000,
    )
    # The scanpath needs a fixation. Under heavy load the tab may send a frame less often than every
    # 200 ms (the I-DT gap limit), so no fixation exists; the page must then say so instead of an image.
    report = httpx.get(f"{server.url}/api/sessions/{session_id}/report").json()
    if report["fixation_count"] > 0:
        page.wait_for_function(
            "(() => { const i = document.querySelector('#report-scanpath img'); return i && i.complete && i.naturalWidth > 0; })()",
            timeout=30_000,
        )
    else:
        assert "No fixation was detected" in page.inner_text("#report-scanpath")
    info = httpx.get(f"{server.url}/api/sessions/{session_id}").json()
    assert info["status"] == "ended" and info["sample_count"] > 0
    shot(page, "07_report")
    # the server's own HTML report, on demand in an iframe
    page.click("#report-frame-load")
    page.frame_locator("#report-frame").locator("h1").first.wait_for(timeout=60_000)
    shot(page, "07_report_full", full_page=True)
    obs.wait_for_selector("#obs-state[data-state='ended']", timeout=20_000)

    # the same pages at 1920x1080
    page.set_viewport_size(LARGE)
    page.wait_for_timeout(300)
    shot(page, "07_report")
    page.goto(f"{server.url}/app/#/review")
    page.wait_for_selector(f"#sessions-table tr[data-session='{session_id}']")
    assert "browser-user" in page.inner_text("#users-table")
    shot(page, "08_dashboard")
    page.set_viewport_size(SMALL)
    shot(page, "08_dashboard")
    page.goto(f"{server.url}/app/#/user/browser-user")
    page.wait_for_function(
        "(() => { const i = document.querySelector('#agg-image img'); return i && i.naturalWidth > 0; })()",
        timeout=30_000,
    )
    shot(page, "09_user_heatmap")

    # the next session of the same user reuses the saved calibration
    page.goto(f"{server.url}/app/#/track")
    page.wait_for_function(
        "document.querySelector('#profile-info').textContent.includes('will be used')", timeout=10_000
    )
    page.set_viewport_size(LARGE)
    shot(page, "10_start_saved_profile")
    second = start_tracking(page, "browser-user")
    assert second != session_id
    page.wait_for_function(
        "document.querySelector('#m-calibration').textContent.startsWith('saved profile')", timeout=20_000
    )
    page.check("#show-gaze")
    page.wait_for_function(
        "Number(document.querySelector('#gaze-canvas').dataset.points || 0) > 5", timeout=30_000
    )
    page.wait_for_timeout(500)
    x, y = (int(page.get_attribute("#gaze-canvas", a)) for a in ("data-x", "data-y"))
    assert 0 <= x <= LARGE["width"] and 0 <= y <= LARGE["height"]
    shot(page, "10_live_saved_profile")
    page.click("#session-end")
    page.wait_for_selector("#view-report[data-loaded='1']", timeout=60_000)
    assert page.get_attribute("#view-report", "data-has-gaze") == "true"


@pytest.fixture
def restartable(serve: Callable[..., Any], tmp_path: Path) -> Callable[[], Any]:
    """Start ``gazescope serve`` on one port and database, as often as asked (each previous server must be
    stopped first); the ``serve`` fixture stops whatever still runs at the end."""
    port: int | None = None

    def start() -> Any:
        nonlocal port
        server = serve(port=port, db_path=tmp_path / "restart.db")
        port = server.port
        return server

    return start


def test_browser_reconnects_to_the_same_session(restartable: Callable[[], Any], pages: Pages) -> None:
    """The server goes away mid-session and comes back on the same port: the page shows it is
    reconnecting, reconnects with backoff and goes on streaming into the same session."""
    proc = restartable()
    url = proc.url
    page = pages.open(url + "/app/")
    session_id = start_tracking(page, "reconnect-user")
    proc.stop()
    page.wait_for_selector("#conn-state[data-state='reconnecting']", timeout=20_000)
    shot(page, "11_reconnecting")
    time.sleep(1.0)
    proc2 = restartable()
    page.wait_for_selector("#conn-state[data-state='connected']", timeout=60_000)
    before = samples_seen(page)
    page.wait_for_function(
        f"Number(document.querySelector('#m-samples').dataset.count) > {before + 10}", timeout=30_000
    )
    assert page.inner_text("#session-id").strip() == session_id
    assert page.evaluate("window.gazescope.client.stats.reconnects") >= 1
    # while the server was down, Chromium itself logged the refused reconnection attempts: expected here
    refused = [e for e in pages.errors if "ERR_CONNECTION_REFUSED" in e]
    assert refused, "no reconnection attempt was made while the server was down"
    pages.errors = [e for e in pages.errors if e not in refused]
    shot(page, "12_reconnected")
    # a reload of the page offers to resume the same session
    page.reload()
    page.wait_for_selector("#session-resume:not([hidden])", timeout=10_000)
    page.check("#consent")
    page.click("#camera-start")
    page.wait_for_selector("#session-resume:enabled", timeout=20_000)
    page.click("#session-resume")
    page.wait_for_selector("#conn-state[data-state='connected']", timeout=20_000)
    page.wait_for_function(
        "Number(document.querySelector('#m-samples').dataset.count || 0) >= 10", timeout=60_000
    )
    assert page.inner_text("#session-id").strip() == session_id
    page.click("#session-end")
    page.wait_for_selector("#view-report[data-loaded='1']", timeout=60_000)
    # one session holds the samples of both connections, with increasing frame indexes
    body = httpx.get(f"{url}/api/sessions/{session_id}/samples").json()
    idx = [s["frame_index"] for s in body["samples"]]
    assert len(idx) > 25 and idx == sorted(idx) and len(set(idx)) == len(idx)
    sessions = httpx.get(f"{url}/api/sessions").json()
    assert [s["id"] for s in sessions] == [session_id]
    assert proc2.alive()
    # delete it from its report page (after confirming)
    page.once("dialog", lambda d: d.accept())
    page.click("#report-delete")
    page.wait_for_selector("#sessions-empty:not([hidden])", timeout=20_000)
    assert httpx.get(f"{url}/api/sessions").json() == []


def _stimulus_png(path: Path) -> Path:
    """A 800x500 test picture (coloured panels and text), written with OpenCV."""
    import cv2
    import numpy as np

    img = np.full((500, 800, 3), 235, np.uint8)
    cv2.rectangle(img, (40, 40), (380, 240), (60, 120, 220), -1)
    cv2.rectangle(img, (420, 40), (760, 240), (60, 180, 90), -1)
    cv2.rectangle(img, (40, 280), (760, 460), (40, 160, 230), -1)
    cv2.putText(img, "gazescope stimulus", (200, 390), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (255, 255, 255), 3)
    cv2.imwrite(str(path), img)
    return path


def record_stimulus(page: Any, tmp_path: Path, seconds: int, screenshot: str | None = None) -> str:
    """After a calibration: upload a test picture in the stimulus dialog and start recording on it for
    ``seconds``; return the recording session's id."""
    page.click("#cal-done")
    page.click("#stimulus-open")
    page.wait_for_selector("#stimulus-dialog[open]")
    page.set_input_files("#stimulus-file", str(_stimulus_png(tmp_path / "panels.png")))
    page.fill("#stimulus-name", "panels")
    page.click("#stimulus-upload")
    page.wait_for_selector("#stimulus-list button[aria-pressed='true']", timeout=20_000)
    page.fill("#stimulus-seconds", str(seconds))
    if screenshot:
        shot(page, screenshot)
    page.click("#stimulus-go")
    page.wait_for_selector("#stimulus-layer[data-recording]", timeout=20_000)
    return page.get_attribute("#stimulus-layer", "data-recording")


def test_browser_stimulus_recording(server: Any, pages: Pages, tmp_path: Path) -> None:
    """Calibrate (5 points), upload a stimulus, record gaze on it full screen, see the report and the
    stimulus's aggregate heatmap."""
    page = pages.open(server.url + "/app/", LARGE)
    start_tracking(page, "stimulus-user")
    assert calibrate(page, "5") == "result"
    rec_id = record_stimulus(page, tmp_path, seconds=4, screenshot="13_stimulus_dialog")
    page.wait_for_timeout(2000)
    shot(page, "14_stimulus_recording")
    page.wait_for_selector("#view-report[data-loaded='1']", timeout=60_000)
    assert page.get_attribute("#view-report", "data-session") == rec_id
    info = httpx.get(f"{server.url}/api/sessions/{rec_id}").json()
    assert info["stimulus_id"] and info["status"] == "ended" and info["sample_count"] > 0
    assert page.get_attribute("#view-report", "data-has-gaze") == "true"
    page.wait_for_function(
        "(() => { const i = document.querySelector('#report-heatmap img'); return i && i.naturalWidth > 0; })()",
        timeout=30_000,
    )
    shot(page, "15_stimulus_report")
    page.goto(f"{server.url}/app/#/stimulus/{info['stimulus_id']}")
    page.wait_for_function(
        "(() => { const i = document.querySelector('#agg-image img'); return i && i.naturalWidth > 0; })()",
        timeout=30_000,
    )
    shot(page, "16_stimulus_aggregate")


def test_browser_api_token(serve: Callable[..., Any], pages: Pages) -> None:
    """With GAZESCOPE_API_TOKEN set, the app asks for the token (kept in sessionStorage) and then works:
    REST calls with a Bearer header, the tracking WebSocket with ?token=."""
    server = serve(GAZESCOPE_API_TOKEN="browser-secret")
    page = pages.open(server.url + "/app/#/review")
    page.wait_for_selector("#settings:not([hidden])")
    assert "API token" in page.inner_text("#banner")
    shot(page, "17_token_needed")
    # the refused request is logged by Chromium itself: expected here
    assert any("401" in e for e in pages.errors)
    pages.errors = [e for e in pages.errors if "401" not in e]
    page.fill("#token", "browser-secret")
    page.dispatch_event("#token", "change")
    page.click("#refresh-sessions")
    page.wait_for_selector("#sessions-empty:not([hidden])")
    assert page.evaluate("sessionStorage.getItem('gazescope.token')") == "browser-secret"
    page.click("[data-nav='track']")
    try:
        session_id = start_tracking(page, "token-user")
    except Exception:
        shot(page, "17_token_debug")
        print(page.inner_text("#conn-state"), page.inner_text("#banner"))
        raise
    auth = {"Authorization": "Bearer browser-secret"}
    info = httpx.get(f"{server.url}/api/sessions/{session_id}", headers=auth)
    assert info.json()["user_id"] == "token-user"
    # ended from elsewhere: the page stops and shows the report
    httpx.post(f"{server.url}/api/sessions/{session_id}/end", headers=auth, timeout=60).raise_for_status()
    page.wait_for_selector("#view-report[data-loaded='1']", timeout=30_000)
    assert page.get_attribute("#view-report", "data-session") == session_id
    assert "ended from elsewhere" in page.inner_text("#banner")
    # a link with ?token= works too, and the token leaves the address bar
    other = pages.open(server.url + "/app/?token=browser-secret#/review")
    other.wait_for_selector(f"#sessions-table tr[data-session='{session_id}']")
    assert "token=" not in other.url


@pytest.mark.parametrize(
    ("flags", "expected", "error_name"),
    [
        (["--use-fake-device-for-media-stream"], "denied", "NotAllowedError"),
        (["--use-fake-ui-for-media-stream"], "No camera was found", "NotFoundError"),
    ],
    ids=["denied", "no-camera"],
)
def test_browser_camera_errors(
    playwright_driver: Any, server: Any, flags: list[str], expected: str, error_name: str
) -> None:
    """Camera errors are explained: permission refused (no fake UI to accept) and no camera at all."""
    b = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=[*flags, *BASE_ARGS])
    errors: list[str] = []
    try:
        page = b.new_page(viewport=SMALL)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/app/")
        page.check("#consent")
        page.click("#camera-start")
        page.wait_for_selector("#camera-error:not([hidden])", timeout=20_000)
        assert page.get_attribute("#camera-error", "data-error") == error_name
        assert expected in page.inner_text("#camera-error")
        assert page.is_disabled("#session-start")
        shot(page, f"18_camera_{error_name}")
    finally:
        b.close()
    assert errors == []


def test_browser_video_stimulus_recording(
    server: Any, pages: Pages, short_video: Path, tmp_path: Path
) -> None:
    """A video stimulus (WebM made from the short real clip) plays full screen while recording; the
    stored samples carry the video and its time (stimulus_time messages from the page)."""
    webm = tmp_path / "clip.webm"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(short_video), "-c:v", "libvpx", "-b:v", "400k", str(webm)],
        check=True,
    )
    page = pages.open(server.url + "/app/", LARGE)
    start_tracking(page, "video-user")
    assert calibrate(page, "5") == "result"
    page.click("#cal-done")
    page.click("#stimulus-open")
    page.wait_for_selector("#stimulus-dialog[open]")
    page.set_input_files("#stimulus-file", str(webm))
    page.click("#stimulus-upload")
    page.wait_for_selector("#stimulus-list button[aria-pressed='true']", timeout=20_000)
    page.fill("#stimulus-seconds", "0")  # until the video ends
    page.click("#stimulus-go")
    page.wait_for_selector("#stimulus-layer[data-recording]", timeout=20_000)
    rec_id = page.get_attribute("#stimulus-layer", "data-recording")
    page.wait_for_timeout(1500)
    shot(page, "18_video_stimulus_recording")
    page.wait_for_selector("#view-report[data-loaded='1']", timeout=60_000)  # the video ended the recording
    info = httpx.get(f"{server.url}/api/sessions/{rec_id}").json()
    assert info["status"] == "ended"
    samples = httpx.get(f"{server.url}/api/sessions/{rec_id}/samples").json()["samples"]
    timed = [s for s in samples if s.get("video_t_s") is not None]
    assert timed and all(s["stimulus_id"] == info["stimulus_id"] for s in timed)
    assert 0 <= min(s["video_t_s"] for s in timed) < max(s["video_t_s"] for s in timed) <= 3.0
    # the video's aggregate view links the gaze overlay video, which renders
    page.goto(f"{server.url}/app/#/stimulus/{info['stimulus_id']}")
    page.wait_for_selector("#agg-overlay:not([hidden])", timeout=30_000)
    r = httpx.get(server.url + page.get_attribute("#agg-overlay", "href"), timeout=120)
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4", r.text
