"""Issue 23, server half: studies and their participant link on a real ``gazescope serve`` with an API token,
on SQLite and on Redis. The researcher composes a study (422 naming what is wrong), the link token lets its
holder join, read their progress, open their sessions in order, stream on them and complete them, and is
refused everything else (tests for each refusal); rotation revokes the link, closing refuses new participants.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from gazescope.storage import RedisStore, SQLiteStore
from gazescope.storage.profiles import RESULTS
from support.studies import as_participant, bearer, join, png, track, ws_status

pytestmark = pytest.mark.integration

MASTER = "master-token-for-study-tests-7d1e"
SCREEN = {"screen_w_px": 1280, "screen_h_px": 720}


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def server(request, module_serve):
    env = {"GAZESCOPE_API_TOKEN": MASTER, "GAZESCOPE_TOKEN_SECRET": "secret-for-study-tests-44"}
    if request.param == "redis":
        env["GAZESCOPE_REDIS_URL"] = request.getfixturevalue("redis_server")
    srv = module_serve(**env)
    srv.redis_url = env.get("GAZESCOPE_REDIS_URL")
    return srv


def server_store(server):
    """The server's own store, opened from the test (SQLite file or the same Redis)."""
    return RedisStore(server.redis_url) if server.redis_url else SQLiteStore(server.db_path)


def fitted(server, session_id: str, error_px: float, profile_id: str, at_ms: float) -> None:
    """A calibration record as the tracking WebSocket's ``calibration_result`` stores it (the fit itself is
    tested in test_calibration_webcam_dots_e2e.py)."""
    store = server_store(server)
    try:
        store.put_document(
            RESULTS,
            f"calibration-{profile_id}",
            {"id": f"calibration-{profile_id}", "kind": "calibration", "session_id": session_id,
             "created_at_ms": at_ms, "accuracy": {"mean_error_px": error_px}, "profile_id": profile_id},
        )  # fmt: skip
    finally:
        store.close()


def new_stimulus(server, name: str) -> str:
    r = httpx.post(
        f"{server.url}/api/stimuli",
        headers=bearer(MASTER),
        files={"file": (f"{name}.png", png(), "image/png")},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def new_study(server, stimuli: list[str], **extra) -> dict:
    body = {
        "name": "landing pages",
        "consent_text": "We record where you look; frames stay on the server only while processed.",
        "instructions": "Look at the pages.",
        "calibration": {"required": False},
        "stimuli": [{"stimulus_id": s, "duration_s": 3} for s in stimuli],
        "fields": [
            {"name": "group", "label": "Your group", "kind": "choice", "choices": ["A", "B"]},
            {"name": "note", "kind": "text", "required": False},
        ],
        "target_participants": 3,
        **extra,
    }
    r = httpx.post(f"{server.url}/api/studies", headers=bearer(MASTER), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_study_crud_and_validation(server):
    a, b = new_stimulus(server, "a"), new_stimulus(server, "b")
    url = f"{server.url}/api/studies"
    assert httpx.post(url, json={"name": "x", "stimuli": [{"stimulus_id": a}]}).status_code == 401
    bad = [
        ({"name": "x", "stimuli": [{"stimulus_id": "nope"}]}, "no stimulus 'nope'"),
        ({"name": "x", "stimuli": []}, "at least 1"),
        ({"name": "x", "stimuli": [{"stimulus_id": a}, {"stimulus_id": a}]}, "listed twice"),
        (
            {"name": "x", "stimuli": [{"stimulus_id": a}], "calibration": {"layout": "7"}},
            "calibration.layout",
        ),
        (
            {
                "name": "x",
                "stimuli": [{"stimulus_id": a}],
                "fields": [{"name": "g", "kind": "choice", "choices": ["A"]}],
            },
            "2 or more",
        ),
        ({"name": "x" * 201, "stimuli": [{"stimulus_id": a}]}, "GAZESCOPE_STUDY_MAX_NAME_CHARS"),
        (
            {"name": "x", "stimuli": [{"stimulus_id": a, "duration_s": 10_000}]},
            "GAZESCOPE_STUDY_MAX_IMAGE_DURATION_S",
        ),
    ]
    for body, reason in bad:
        r = httpx.post(url, headers=bearer(MASTER), json=body)
        assert r.status_code == 422 and reason in r.text, (body, r.text)
    r = httpx.post(url, headers=bearer(MASTER), json={"name": "x", "stimuli": [{"stimulus_id": "nope"}]})
    assert r.json()["code"] == "unknown_stimulus"

    study = new_study(server, [a, b])
    link = study["link"]
    assert link["token"].startswith("gsl1_") and link["path"] == f"/study/{link['token']}"
    assert study["status"] == "open" and [s["stimulus_id"] for s in study["stimuli"]] == [a, b]
    assert study["stimuli"][0]["kind"] == "image" and study["stimuli"][0]["duration_s"] == 3
    assert study["calibration"]["max_error_pct"] == 10.0 and study["calibration"]["max_tries"] == 3
    got = httpx.get(f"{url}/{study['id']}", headers=bearer(MASTER)).json()
    assert got["link"] is None and "token_hash" not in got and link["token"] not in json.dumps(got)
    assert study["id"] in [s["id"] for s in httpx.get(url, headers=bearer(MASTER)).json()]
    r = httpx.patch(
        f"{url}/{study['id']}", headers=bearer(MASTER), json={"name": "renamed", "randomize": True}
    )
    assert r.status_code == 200 and r.json()["name"] == "renamed" and r.json()["randomize"] is True
    r = httpx.patch(
        f"{url}/{study['id']}", headers=bearer(MASTER), json={"stimuli": [{"stimulus_id": "gone"}]}
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_stimulus"
    assert httpx.get(f"{url}/nope", headers=bearer(MASTER)).status_code == 404
    assert "/api/studies" in httpx.get(f"{server.url}/openapi.json").json()["paths"]


def test_participant_flow_and_return(server, desk_jpegs):
    a, b = new_stimulus(server, "a"), new_stimulus(server, "b")
    study = new_study(server, [a, b])
    tok = study["link"]["token"]
    view = httpx.get(f"{server.url}/api/participate", headers=bearer(tok)).json()
    assert view["consent_text"].startswith("We record") and [s["stimulus_id"] for s in view["stimuli"]] == [
        a,
        b,
    ]
    assert "token_hash" not in view
    img = httpx.get(f"{server.url}{view['stimuli'][0]['image_url']}", params={"token": tok})
    assert img.status_code == 200 and img.headers["content-type"] == "image/png"
    r = httpx.post(
        f"{server.url}/api/participate/participants", headers=bearer(tok), json={"answers": {"group": "C"}}
    )
    assert r.status_code == 422 and "not one of A, B" in r.text
    r = httpx.post(f"{server.url}/api/participate/participants", headers=bearer(tok), json={"answers": {}})
    assert r.status_code == 422 and "needs an answer" in r.text
    joined = join(server.url, tok)
    pid, secret = joined["participant_id"], joined["participant_secret"]
    assert joined["progress"]["next"]["stimulus_id"] == a and joined["progress"]["total"] == 2
    me = as_participant(tok, secret)
    base = f"{server.url}/api/participate/participants/{pid}"
    r = httpx.post(f"{base}/sessions", headers=me, json={"stimulus_id": b, **SCREEN})
    assert r.status_code == 409 and r.json()["code"] == "out_of_order"
    r = httpx.post(f"{base}/sessions", headers=me, json={"stimulus_id": a, **SCREEN})
    assert r.status_code == 201, r.text
    s1 = r.json()
    sid = s1["session"]["id"]
    assert s1["session"]["stimulus_id"] == a and s1["session"]["user_id"] == pid
    url = f"{server.ws_url}{s1['track_path']}?token={s1['session_token']}"
    assert asyncio.run(track(url, desk_jpegs[:3])) == 3
    # the participant reloads: same session again, progress unchanged
    again = httpx.post(f"{base}/sessions", headers=me, json={"stimulus_id": a, **SCREEN}).json()
    assert again["session"]["id"] == sid
    assert httpx.get(base, headers=me).json()["next"]["session_id"] == sid
    r = httpx.post(f"{base}/sessions/{sid}/complete", headers=me)
    assert r.status_code == 200 and r.json()["next"]["stimulus_id"] == b and r.json()["completed"] == [a]
    info = httpx.get(f"{server.url}/api/sessions/{sid}", headers=bearer(MASTER)).json()
    assert info["status"] == "ended" and info["sample_count"] == 3
    r = httpx.post(f"{base}/sessions", headers=me, json={"stimulus_id": a, **SCREEN})
    assert r.status_code == 409 and r.json()["code"] == "already_completed"
    s2 = httpx.post(f"{base}/sessions", headers=me, json={"stimulus_id": b, **SCREEN}).json()
    done = httpx.post(f"{base}/sessions/{s2['session']['id']}/complete", headers=me).json()
    assert done["finished"] is True and done["next"] is None
    r = httpx.put(f"{base}/answers", headers=me, json={"answers": {"group": "B", "note": "glasses"}})
    assert r.status_code == 200 and r.json()["answers"] == {"group": "B", "note": "glasses"}


def test_calibration_gate(server):
    a = new_stimulus(server, "a")
    study = new_study(server, [a], calibration={"required": True, "max_tries": 2})
    assert study["calibration"]["max_error_pct"] == 10.0  # of 1280 px: 128 px
    tok = study["link"]["token"]

    def start(p: dict) -> tuple[dict, str]:
        return as_participant(
            tok, p["participant_secret"]
        ), f"{server.url}/api/participate/participants/{p['participant_id']}"

    me, base = start(join(server.url, tok))
    r = httpx.post(f"{base}/sessions", headers=me, json={"stimulus_id": a, **SCREEN})
    assert r.status_code == 409 and r.json()["code"] == "calibration_required"
    cal = httpx.post(f"{base}/sessions", headers=me, json={"stimulus_id": None, **SCREEN})
    assert cal.status_code == 201 and cal.json()["session"]["stimulus_id"] is None
    cal_id = cal.json()["session"]["id"]
    r = httpx.post(f"{base}/calibration", headers=me, json={"session_id": cal_id})
    assert r.status_code == 409 and r.json()["code"] == "no_calibration"
    fitted(server, cal_id, 200.0, "p-bad", 1.0)  # 15.6 % of the width
    r = httpx.post(f"{base}/calibration", headers=me, json={"session_id": cal_id})
    assert r.status_code == 200, r.text
    assert (r.json()["passed"], r.json()["tries_left"], r.json()["error_pct"]) == (False, 1, 15.625)
    assert httpx.post(f"{base}/sessions", headers=me, json={"stimulus_id": a, **SCREEN}).status_code == 409
    fitted(server, cal_id, 64.0, "p-good", 2.0)  # 5 %
    r = httpx.post(f"{base}/calibration", headers=me, json={"session_id": cal_id})
    assert r.json()["passed"] is True and r.json()["profile_id"] == "p-good" and r.json()["tries_left"] == 0
    prog = httpx.get(base, headers=me).json()["calibration"]
    assert prog["passed"] is True and prog["tries"] == 2
    s = httpx.post(f"{base}/sessions", headers=me, json={"stimulus_id": a, **SCREEN})
    assert (
        s.status_code == 201 and s.json()["session"]["calibration_id"] == "p-good"
    )  # applied when tracking starts
    r = httpx.post(f"{base}/calibration", headers=me, json={"session_id": cal_id})
    assert r.status_code == 403 and r.json()["code"] == "calibration_tries_exhausted"

    # a participant whose tries all fail is stopped
    me2, base2 = start(join(server.url, tok))
    for k in range(2):
        c = httpx.post(f"{base2}/sessions", headers=me2, json={"stimulus_id": None, **SCREEN}).json()[
            "session"
        ]["id"]
        fitted(server, c, 300.0, f"p2-{k}", 10.0 + k)
        assert (
            httpx.post(f"{base2}/calibration", headers=me2, json={"session_id": c}).json()["passed"] is False
        )
    r = httpx.post(f"{base2}/sessions", headers=me2, json={"stimulus_id": None, **SCREEN})
    assert r.status_code == 403 and r.json()["code"] == "calibration_tries_exhausted"


def test_refusals_of_the_study_token(server):
    a = new_stimulus(server, "a")
    other_stim = new_stimulus(server, "other")
    one, two = new_study(server, [a]), new_study(server, [other_stim])
    tok, tok2 = one["link"]["token"], two["link"]["token"]
    p1, p2 = join(server.url, tok), join(server.url, tok)
    me1 = as_participant(tok, p1["participant_secret"])
    me2 = as_participant(tok, p2["participant_secret"])
    s1 = httpx.post(
        f"{server.url}/api/participate/participants/{p1['participant_id']}/sessions",
        headers=me1,
        json={"stimulus_id": a, **SCREEN},
    ).json()
    sid1 = s1["session"]["id"]
    refused = [
        ("GET", "/api/sessions"),
        ("GET", f"/api/sessions/{sid1}"),
        ("GET", f"/api/sessions/{sid1}/samples"),
        ("DELETE", f"/api/sessions/{sid1}"),
        ("POST", "/api/sessions"),
        ("GET", "/api/studies"),
        ("GET", f"/api/studies/{one['id']}"),
        ("GET", f"/api/studies/{two['id']}"),
        ("DELETE", f"/api/studies/{one['id']}"),
        ("POST", f"/api/studies/{one['id']}/link"),
        ("GET", "/api/stimuli"),
        ("DELETE", f"/api/stimuli/{a}"),
        ("GET", "/api/profiles"),
    ]
    for method, path in refused:
        r = httpx.request(method, f"{server.url}{path}", headers=bearer(tok))
        assert r.status_code == 403, (method, path, r.text)
        assert "study link token" in r.json()["detail"], (method, path, r.text)
    # the study token on a tracking WebSocket, and the session token on another session
    assert ws_status(f"{server.ws_url}/ws/sessions/{sid1}/track?token={tok}") == 403
    p2_sess = httpx.post(
        f"{server.url}/api/participate/participants/{p2['participant_id']}/sessions",
        headers=me2,
        json={"stimulus_id": a, **SCREEN},
    ).json()
    assert ws_status(f"{server.ws_url}/ws/sessions/{sid1}/track?token={p2_sess['session_token']}") == 403
    # another study's stimulus, another participant's progress and sessions
    r = httpx.get(f"{server.url}/api/participate/stimuli/{other_stim}/image", headers=bearer(tok))
    assert r.status_code == 403 and r.json()["code"] == "not_in_study"
    base1 = f"{server.url}/api/participate/participants/{p1['participant_id']}"
    r = httpx.get(base1, headers=me2)
    assert r.status_code == 403 and r.json()["code"] == "participant_secret"
    assert httpx.get(base1, headers=bearer(tok)).status_code == 403  # no secret
    base2 = f"{server.url}/api/participate/participants/{p2['participant_id']}"
    r = httpx.post(f"{base2}/sessions/{sid1}/complete", headers=me2)
    assert r.status_code == 403 and r.json()["code"] == "not_your_session"
    r = httpx.post(f"{base2}/calibration", headers=me2, json={"session_id": sid1})
    assert r.status_code == 403 and r.json()["code"] == "not_your_session"
    # the other study's link cannot reach this study's participants
    r = httpx.get(base1, headers=as_participant(tok2, p1["participant_secret"]))
    assert r.status_code == 403
    # the master token is not a link
    r = httpx.get(f"{server.url}/api/participate", headers=bearer(MASTER))
    assert r.status_code == 401 and r.json()["code"] == "study_link_invalid"
    assert httpx.get(f"{server.url}/api/sessions/{sid1}", headers=bearer(MASTER)).json()["status"] == "active"

    # rotation revokes the link; the new one works, the participant continues with it
    rotated = httpx.post(f"{server.url}/api/studies/{one['id']}/link", headers=bearer(MASTER)).json()
    new_tok = rotated["link"]["token"]
    r = httpx.get(f"{server.url}/api/participate", headers=bearer(tok))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert httpx.get(base1, headers=as_participant(new_tok, p1["participant_secret"])).status_code == 200

    # a closed study refuses new participants and new sessions, with the reason
    assert (
        httpx.post(f"{server.url}/api/studies/{one['id']}/close", headers=bearer(MASTER)).json()["status"]
        == "closed"
    )
    r = httpx.post(
        f"{server.url}/api/participate/participants",
        headers=bearer(new_tok),
        json={"answers": {"group": "A"}},
    )
    assert r.status_code == 410 and r.json()["code"] == "study_closed" and "closed" in r.json()["detail"]
    r = httpx.post(
        f"{base1}/sessions",
        headers=as_participant(new_tok, p1["participant_secret"]),
        json={"stimulus_id": a, **SCREEN},
    )
    assert r.status_code == 410
    assert (
        httpx.post(f"{server.url}/api/studies/{one['id']}/open", headers=bearer(MASTER)).json()["status"]
        == "open"
    )
    assert join(server.url, new_tok)["participant_id"]


def test_a_video_stimulus_plays_its_length(server, short_video):
    data = short_video.read_bytes()
    r = httpx.post(
        f"{server.url}/api/stimuli", headers=bearer(MASTER), files={"file": ("clip.mp4", data, "video/mp4")}
    )
    assert r.status_code == 201, r.text
    vid, img = r.json()["id"], new_stimulus(server, "img")
    url = f"{server.url}/api/studies"
    body = {"name": "trailer", "stimuli": [{"stimulus_id": vid, "duration_s": 10}]}
    r = httpx.post(url, headers=bearer(MASTER), json=body)
    assert r.status_code == 422 and "plays its length" in r.text
    body["stimuli"] = [{"stimulus_id": img}, {"stimulus_id": vid}]
    study = httpx.post(url, headers=bearer(MASTER), json=body).json()
    assert [(s["kind"], s["duration_s"]) for s in study["stimuli"]] == [("image", 5.0), ("video", 3.0)]
    tok = study["link"]["token"]
    view = httpx.get(f"{server.url}/api/participate", headers=bearer(tok)).json()
    r = httpx.get(
        f"{server.url}{view['stimuli'][1]['video_url']}", headers={**bearer(tok), "Range": "bytes=0-99"}
    )
    assert r.status_code == 206 and r.content == data[:100]


def test_the_link_works_on_an_open_server_too(serve, desk_jpegs):
    """Without GAZESCOPE_API_TOKEN the researcher needs no token, and the participant routes still need
    the link token (and the participant secret)."""
    srv = serve()
    r = httpx.post(f"{srv.url}/api/stimuli", files={"file": ("a.png", png(), "image/png")})
    a = r.json()["id"]
    study = httpx.post(f"{srv.url}/api/studies", json={"name": "open", "calibration": {"required": False},
                                                     "stimuli": [{"stimulus_id": a}]}).json()  # fmt: skip
    tok = study["link"]["token"]
    assert httpx.get(f"{srv.url}/api/participate").status_code == 401
    joined = httpx.post(f"{srv.url}/api/participate/participants", headers=bearer(tok)).json()
    me = as_participant(tok, joined["participant_secret"])
    base = f"{srv.url}/api/participate/participants/{joined['participant_id']}"
    assert httpx.get(base, headers=bearer(tok)).status_code == 403
    s = httpx.post(f"{base}/sessions", headers=me, json={"stimulus_id": a, **SCREEN}).json()
    url = f"{srv.ws_url}{s['track_path']}?token={s['session_token']}"
    assert asyncio.run(track(url, desk_jpegs[:2])) == 2
    assert httpx.post(f"{base}/sessions/{s['session']['id']}/complete", headers=me).json()["finished"] is True


def test_video_moment_heatmap_over_included_participants(server, short_video):
    """The time-windowed heatmap of a video over the study's included participants. Their samples on the
    video (screen gaze with ``video_t_s``, as the tracking WebSocket stores them once calibrated and told the
    video's time) are written into the server's store: the test is about which sessions are drawn."""
    r = httpx.post(
        f"{server.url}/api/stimuli",
        headers=bearer(MASTER),
        files={"file": ("clip.mp4", short_video.read_bytes())},
    )
    vid = r.json()["id"]
    body = {"name": "trailer", "calibration": {"required": False}, "stimuli": [{"stimulus_id": vid}],
            "fields": [{"name": "group", "kind": "choice", "choices": ["A", "B"]}]}  # fmt: skip
    study = httpx.post(f"{server.url}/api/studies", headers=bearer(MASTER), json=body).json()
    tok = study["link"]["token"]
    people = []
    for group, (x, y) in (("A", (300, 200)), ("B", (1000, 500))):
        p = join(server.url, tok, group)
        me = as_participant(tok, p["participant_secret"])
        base = f"{server.url}/api/participate/participants/{p['participant_id']}"
        sid = httpx.post(f"{base}/sessions", headers=me, json={"stimulus_id": vid, **SCREEN}).json()[
            "session"
        ]["id"]
        samples = [
            {"t_ms": 1000.0 + i * 33.3, "frame_index": i, "face_detected": True, "screen_x_px": x + (i % 2),
             "screen_y_px": y, "on_screen": True, "stimulus_id": vid, "video_t_s": i / 30.0}
            for i in range(90)
        ]  # fmt: skip
        store = server_store(server)
        try:
            store.append_samples(sid, samples)
        finally:
            store.close()
        assert httpx.post(f"{base}/sessions/{sid}/complete", headers=me).status_code == 200
        people.append(p["participant_id"])
    heat = f"{server.url}/api/studies/{study['id']}/stimuli/{vid}/heatmap.png"
    r = httpx.get(heat, headers=bearer(MASTER), params={"t_s": 1.5})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
    assert r.headers["X-Gazescope-Sessions"] == "2"
    r = httpx.get(heat, headers=bearer(MASTER), params={"t_s": 1.5, "group_by": "group", "group": "B"})
    assert r.status_code == 200 and r.headers["X-Gazescope-Sessions"] == "1"
    assert httpx.get(heat, headers=bearer(MASTER), params={"t_s": 9}).status_code == 422  # after the end
    httpx.patch(f"{server.url}/api/studies/{study['id']}/participants/{people[1]}", headers=bearer(MASTER),
                json={"excluded": True})  # fmt: skip
    r = httpx.get(heat, headers=bearer(MASTER), params={"t_s": 1.5})
    assert r.status_code == 200 and r.headers["X-Gazescope-Sessions"] == "1"
    r = httpx.get(heat, headers=bearer(MASTER), params={"t_s": 1.5, "group_by": "group", "group": "B"})
    assert r.status_code == 422 and r.json()["code"] == "no_gaze"
