"""Two ``gazescope serve`` instances on one real redis-server behind a real nginx, configured from
``deploy/gazescope.nginx.conf.template``: a client streams real frames through nginx, an observer on the other
instance sees them live, the client continues its session on the other instance (frame indices continue, none
reused), a second tracking connection on another instance takes over (the first is closed with the takeover
code), ending the session from the instance that does not track it closes the tracking connection, and
sessions, reports and heatmaps answer the same from either instance."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import shutil
import string
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from gazescope.engine.transport import CloseCode
from support.servers import Server, free_port, server_env, spawn_serve, stop_process, wait_for_healthz

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "gazescope.nginx.conf.template"
TIMEOUT_S = 30.0  # any single wait of this test


def nginx_main_conf(tmp: Path, site: Path) -> str:
    """A non-daemon nginx whose files all live in ``tmp``, serving ``site`` (the rendered template)."""
    temps = "\n".join(
        f"    {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        "daemon off;\nworker_processes 1;\n"
        f"pid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n    access_log {tmp / 'access.log'};\n{temps}\n    include {site};\n}}\n"
    )


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Callable[[list[Server]], str]]:
    """``nginx([servers])`` starts nginx in front of ``servers`` and returns its base URL."""
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if exe is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    procs: list[subprocess.Popen] = []

    def _start(servers: list[Server]) -> str:
        tmp = tmp_path / "nginx"
        tmp.mkdir()
        port = free_port()
        upstreams = " ".join(f"server 127.0.0.1:{s.port};" for s in servers)
        site = tmp / "gazescope.conf"
        site.write_text(
            string.Template(TEMPLATE.read_text()).safe_substitute(
                GAZESCOPE_UPSTREAMS=upstreams, NGINX_LISTEN=f"127.0.0.1:{port}"
            )
        )
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_main_conf(tmp, site))
        log = (tmp / "stderr.log").open("wb")
        cmd = [exe, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)]
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        state = wait_for_healthz(url, timeout_s=TIMEOUT_S, alive=lambda: proc.poll() is None, interval_s=0.1)
        if state == "exited":
            err = (tmp / "error.log").read_text(errors="replace") if (tmp / "error.log").exists() else ""
            pytest.fail(f"nginx exited with {proc.returncode}: {err}")
        if state == "timeout":
            pytest.fail("nginx did not answer /healthz")
        return url

    yield _start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def ws(url: str) -> str:
    return url.replace("http://", "ws://", 1)


async def send_frames(conn: Any, frames: list[bytes]) -> list[dict[str, Any]]:
    """Send frames one at a time, each after the previous one's sample (none dropped); the samples."""
    samples = []
    for i, jpeg in enumerate(frames):
        data = base64.b64encode(jpeg).decode()
        await conn.send(json.dumps({"type": "frame", "data": data, "t_ms": i * 66.7}))
        while True:
            msg = json.loads(await asyncio.wait_for(conn.recv(), TIMEOUT_S))
            if msg["type"] == "sample":
                samples.append(msg)
                break
    return samples


async def collect(conn: Any, out: list[dict[str, Any]]) -> None:
    """Append every message of an observer ``conn`` to ``out`` until it closes."""
    try:
        async for raw in conn:
            out.append(json.loads(raw))
    except websockets.ConnectionClosed:
        pass


async def wait_for(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def tracking_instance(servers: list[Server], session_id: str) -> Server:
    """The instance whose log says it opened a tracking connection for ``session_id``."""
    hits = [
        s for s in servers if any("tracking_open" in ln and session_id in ln for ln in s.log().splitlines())
    ]
    assert len(hits) == 1, [s.port for s in hits]
    return hits[0]


def test_two_instances_behind_nginx_share_sessions_tracking_and_observers(
    serve: Callable[..., Server],
    nginx: Callable[[list[Server]], str],
    redis_server: str,
    desk_jpegs: list[bytes],
    short_video: Path,
) -> None:
    redis_url = redis_server.rsplit("/", 1)[0] + "/7"  # a database of its own on the shared server
    a = serve(GAZESCOPE_REDIS_URL=redis_url)
    b = serve(GAZESCOPE_REDIS_URL=redis_url)
    front = nginx([a, b])
    frames = desk_jpegs[:90]

    async def scenario() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=front, timeout=TIMEOUT_S) as http:
            r = await http.post(
                "/api/sessions", json={"user_id": "multi", "screen_w_px": 1280, "screen_h_px": 720}
            )
            assert r.status_code in (200, 201), r.text
            sid = r.json()["id"]
        seen: dict[int, list[dict[str, Any]]] = {a.port: [], b.port: []}
        observers = []
        for s in (a, b):  # observers connected directly to each instance, before anything is tracked
            o = await websockets.connect(f"{s.ws_url}/ws/sessions/{sid}/live", max_size=None)
            seen[s.port].append(json.loads(await o.recv()))
            observers.append((o, asyncio.create_task(collect(o, seen[s.port]))))

        # 1. through nginx: whichever instance nginx picked tracks the session
        async with websockets.connect(f"{ws(front)}/ws/sessions/{sid}/track", max_size=None) as c1:
            hello1 = json.loads(await c1.recv())
            s1 = await send_frames(c1, frames[:30])
        first = tracking_instance([a, b], sid)
        other = b if first is a else a
        idx1 = [m["frame_index"] for m in s1]

        def observed(port: int) -> list[int]:
            return [m["frame_index"] for m in seen[port] if m.get("type") == "sample"]

        # the observer on the other instance saw every sample live (through Redis pub/sub)
        await wait_for(lambda: set(idx1) <= set(observed(other.port)), "samples on the other instance")

        # 2. the client comes back on the other instance and continues the session
        c2 = await websockets.connect(f"{other.ws_url}/ws/sessions/{sid}/track", max_size=None)
        hello2 = json.loads(await c2.recv())
        s2 = await send_frames(c2, frames[30:60])
        idx2 = [m["frame_index"] for m in s2]

        # 3. a second tracking connection, on the first instance, takes over from c2 (on the other)
        c3 = await websockets.connect(f"{first.ws_url}/ws/sessions/{sid}/track", max_size=None)
        hello3 = json.loads(await asyncio.wait_for(c3.recv(), TIMEOUT_S))
        await asyncio.wait_for(c2.wait_closed(), TIMEOUT_S)
        c2_code = c2.close_code
        s3 = await send_frames(c3, frames[60:75])
        idx3 = [m["frame_index"] for m in s3]
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
            tracking_seen = [
                (await http.get(f"{s.url}/api/sessions/{sid}")).json()["tracking"] for s in (a, b)
            ]
            # 4. ending the session on the instance that does not track it closes c3 (on the first)
            end = await http.post(f"{other.url}/api/sessions/{sid}/end")
        assert end.status_code == 200, end.text
        tail = []
        try:
            async for raw in c3:
                tail.append(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        await asyncio.wait_for(c3.wait_closed(), TIMEOUT_S)
        for o, task in observers:
            await asyncio.wait_for(task, TIMEOUT_S)  # closed by session_ended
            await o.close()
        return {
            "sid": sid,
            "hellos": (hello1, hello2, hello3),
            "idx": (idx1, idx2, idx3),
            "c2_code": c2_code,
            "c3_code": c3.close_code,
            "tail": tail,
            "tracking_seen": tracking_seen,
            "first": first,
            "other": other,
        }

    out = asyncio.run(asyncio.wait_for(scenario(), 240))
    sid = out["sid"]
    idx1, idx2, idx3 = out["idx"]
    hello1, hello2, hello3 = out["hellos"]
    assert hello1["next_frame_index"] == 0
    assert idx1 == list(range(30))
    # continuation across instances: after every index handed out, none reused
    assert hello2["resumed"] is True and hello2["next_frame_index"] == 30
    assert idx2 == list(range(30, 60))
    assert out["c2_code"] == CloseCode.REPLACED
    assert hello3["next_frame_index"] >= 60 and idx3[0] == hello3["next_frame_index"]
    all_idx = idx1 + idx2 + idx3
    assert len(set(all_idx)) == len(all_idx)
    assert out["tracking_seen"] == [True, True]
    assert out["c3_code"] == CloseCode.NORMAL
    assert any(m.get("type") == "session_ended" for m in out["tail"])

    # stored == processed, and every instance (and nginx) answers the same
    with httpx.Client(timeout=TIMEOUT_S) as http:
        pages = [
            http.get(f"{u}/api/sessions/{sid}/samples").json() for u in (out["first"].url, out["other"].url)
        ]
        assert pages[0] == pages[1]
        assert [s["frame_index"] for s in pages[0]["samples"]] == all_idx
        for path in (f"/api/sessions/{sid}", f"/api/sessions/{sid}/report", "/api/sessions?user_id=multi"):
            answers = [http.get(f"{u}{path}") for u in (a.url, b.url)]
            assert [r.status_code for r in answers] == [200, 200], path
            assert answers[0].json() == answers[1].json(), path
        info = answers[0].json()[0]
        assert info["status"] == "ended" and info["tracking"] is False
        assert info["sample_count"] == len(all_idx)

        # heatmaps: client-side gaze points posted through nginx, drawn the same by either instance
        r = http.post(
            f"{a.url}/api/sessions", json={"user_id": "multi-gaze", "screen_w_px": 1280, "screen_h_px": 720}
        )
        gid = r.json()["id"]
        pts = [
            {"t_ms": i * 33.3, "x_px": 640 + 300 * math.cos(i / 40), "y_px": 360 + 200 * math.sin(i / 25)}
            for i in range(600)
        ]
        assert http.post(f"{front}/api/sessions/{gid}/gaze", json={"points": pts}).status_code == 200
        assert http.post(f"{front}/api/sessions/{gid}/end").status_code == 200
        pngs = [http.get(f"{u}/api/sessions/{gid}/heatmap.png") for u in (a.url, b.url, front)]
        assert [r.status_code for r in pngs] == [200, 200, 200]
        assert pngs[0].headers["content-type"] == "image/png"
        assert pngs[0].content == pngs[1].content == pngs[2].content

        # a stimulus video uploaded to one instance is served by the other (its local copy is rebuilt
        # from the store), with range requests through nginx too
        clip = short_video.read_bytes()
        r = http.post(f"{a.url}/api/stimuli", files={"file": ("clip.mp4", clip, "video/mp4")})
        assert r.status_code in (200, 201), r.text
        vid = r.json()["id"]
        assert http.get(f"{b.url}/api/stimuli/{vid}/video").content == clip
        part = http.get(f"{front}/api/stimuli/{vid}/video", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == clip[100:200]


def test_serve_with_two_workers_on_redis_shares_one_port(
    tmp_path: Path, redis_server: str, desk_jpegs: list[bytes]
) -> None:
    """``gazescope serve --workers 2``: two processes answer on one port; a newer tracking connection takes
    over from an older one whichever process each landed on, and the session continues."""
    redis_url = redis_server.rsplit("/", 1)[0] + "/8"
    port = free_port()
    env = server_env(GAZESCOPE_REDIS_URL=redis_url, GAZESCOPE_CALIBRATION_PRELOAD_CNN="false")  # as serve()
    log_path = tmp_path / "workers.log"
    proc = spawn_serve(["--port", str(port), "--workers", "2"], env=env, cwd=tmp_path, log_path=log_path)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while log_path.read_text(errors="replace").count("service_start") < 2:
            assert proc.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, "two workers did not start within 60 s"
            time.sleep(0.2)
        sid = httpx.post(f"{url}/api/sessions", json={}, timeout=TIMEOUT_S).json()["id"]

        async def scenario() -> tuple[list[int], int | None, dict[str, Any], list[int]]:
            c1 = await websockets.connect(f"ws://127.0.0.1:{port}/ws/sessions/{sid}/track", max_size=None)
            await c1.recv()
            s1 = await send_frames(c1, desk_jpegs[:10])
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws/sessions/{sid}/track") as c2:
                hello = json.loads(await asyncio.wait_for(c2.recv(), TIMEOUT_S))
                await asyncio.wait_for(c1.wait_closed(), TIMEOUT_S)
                s2 = await send_frames(c2, desk_jpegs[10:15])
            return [m["frame_index"] for m in s1], c1.close_code, hello, [m["frame_index"] for m in s2]

        idx1, code, hello, idx2 = asyncio.run(asyncio.wait_for(scenario(), 120))
        assert code == CloseCode.REPLACED
        assert idx1 == list(range(10)) and hello["next_frame_index"] == 10 and idx2 == list(range(10, 15))
        info = httpx.get(f"{url}/api/sessions/{sid}", timeout=TIMEOUT_S).json()
        assert info["sample_count"] == 15
    finally:
        stop_process(proc)
