"""Issue 14 end to end on a real ``gazescope serve`` with REAL frames (webcam_dots, subject hy):
a user's second calibration is pooled with the first (the profile grows, accuracy reported alone and
pooled), and clicks refit the applied calibration (WebSocket ``click`` and ``POST .../clicks``): samples
after a click are mapped by the refit and the stored samples keep which fit mapped them."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from .test_calibration_webcam_dots_e2e import SUBJECT, Client, calibrate, dots

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def mapped_frame(c: Client, jpeg: bytes) -> dict[str, Any]:
    """Send ``jpeg`` until its sample is mapped: a new image can first read as a closing lid (its open-eye
    EAR differs), and samples are held, not mapped, through a closure."""
    for _ in range(40):
        sample = await c.frame(jpeg)
        if sample["calibration_fit"] is not None and not sample["is_blinking"]:
            return sample
    raise AssertionError("the image was never mapped")


async def click_result(c: Client, jpeg: bytes) -> dict[str, Any]:
    """Send frames until the pending click is answered (it takes the first frame with open eyes)."""
    for _ in range(40):
        await c.frame(jpeg)
        done = [m for m in c.messages if m["type"] == "click_result"]
        if done:
            c.messages.remove(done[0])
            return done[0]
    return await c.next("click_result", timeout=10.0)


async def scenario(server: Any, first: list[dict], second: list[dict], clicks: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        for name, points in (("first", first), ("second", second)):
            r = await http.post("/api/sessions", json={"user_id": SUBJECT})
            sid = r.json()["id"]
            async with websockets.connect(f"{server.ws_url}/ws/sessions/{sid}/track", max_size=None) as ws:
                c = Client(ws)
                await c.next("session")
                result = await calibrate(c, points, SUBJECT)
                assert result["type"] == "calibration_result", result
                out[name] = {"sid": sid, "result": result}
                if name == "first":
                    continue
                before = await mapped_frame(c, clicks[0]["jpeg"])
                await c.send({"type": "click", "x_px": clicks[0]["x"], "y_px": clicks[0]["y"]})
                ws_click = await click_result(c, clicks[0]["jpeg"])
                after = await c.frame(clicks[0]["jpeg"])
                # a REST click takes the next usable frame the connection receives
                await mapped_frame(c, clicks[1]["jpeg"])
                post = asyncio.create_task(
                    http.post(
                        f"/api/sessions/{sid}/clicks", json={"x_px": clicks[1]["x"], "y_px": clicks[1]["y"]}
                    )
                )
                await mapped_frame(c, clicks[1]["jpeg"])
                while not post.done():
                    await c.frame(clicks[1]["jpeg"])
                rest_click = (await post).json()
                after_rest = await c.frame(clicks[1]["jpeg"])
                await c.send({"type": "click", "x_px": 1e9, "y_px": 5})
                off_screen = await click_result(c, clicks[1]["jpeg"])
                out.update(before=before, ws_click=ws_click, after=after, rest_click=rest_click,
                           after_rest=after_rest, off_screen=off_screen)  # fmt: skip
            await http.post(f"/api/sessions/{sid}/end")
        out["stored"] = (await http.get(f"/api/sessions/{out['second']['sid']}/samples")).json()
        pid = out["second"]["result"]["profile_id"]
        out["profile"] = (await http.get(f"/api/profiles/{pid}")).json()
        out["no_conn"] = await http.post(
            f"/api/sessions/{out['first']['sid']}/clicks", json={"x_px": 1, "y_px": 1}
        )
    return out


def test_profiles_pool_sittings_and_clicks_refit(
    serve: Callable[..., Any], data_dir: Path, tmp_path: Path
) -> None:
    server = serve(GAZESCOPE_DB_PATH=str(tmp_path / "clicks.db"))
    second = dots(data_dir, "4")
    # clicks on top-row dots of this sitting: images of other sittings or lower rows have a lower EAR than
    # the running open-eye baseline, which the blink detector reads as closed lids (samples held, not mapped)
    out = asyncio.run(scenario(server, dots(data_dir, "1"), second, [second[3], second[1]]))

    a1, a2 = out["first"]["result"]["accuracy"], out["second"]["result"]["accuracy"]
    assert a1["n_sittings"] == 1 and a1["pooled_loo_px"] is None and a1["alone_loo_px"] > 0
    assert a2["n_sittings"] == 2 and math.isfinite(a2["pooled_loo_px"]) and math.isfinite(a2["alone_loo_px"])
    print(
        f"second sitting, leave-one-target-out: alone {a2['alone_loo_px']} px, pooled {a2['pooled_loo_px']} px"
    )
    assert len(out["profile"]["profile"]["sittings"]) == 2  # the stored profile holds both sittings

    pid = out["second"]["result"]["profile_id"]
    assert out["before"]["calibration_fit"] == pid
    assert out["ws_click"]["status"] == "refit" and out["ws_click"]["fit_id"] == f"{pid}+1"
    assert out["after"]["calibration_fit"] == f"{pid}+1"
    # the same image maps elsewhere once the click at its dot was learnt
    moved = math.hypot(out["after"]["screen_x_px"] - out["before"]["screen_x_px"],
                       out["after"]["screen_y_px"] - out["before"]["screen_y_px"])  # fmt: skip
    assert moved > 0.5
    assert out["rest_click"]["status"] == "refit", out["rest_click"]
    assert out["rest_click"]["fit_id"] == f"{pid}+2"
    assert out["after_rest"]["calibration_fit"] == f"{pid}+2"
    assert out["off_screen"]["status"] == "ignored" and "outside" in out["off_screen"]["reason"]
    assert out["no_conn"].status_code == 409

    fits = [s.get("calibration_fit") for s in out["stored"]["samples"]]
    mapped = [f for f in fits if f is not None]
    # stored in order, each fit mapping a run of samples: the first profile (applied when the session of
    # the same user started), the pooled one, then each click's refit
    order = [f for k, f in enumerate(mapped) if k == 0 or f != mapped[k - 1]]
    assert order == [out["first"]["result"]["profile_id"], pid, f"{pid}+1", f"{pid}+2"]
