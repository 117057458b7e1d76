"""api/deps.py: routes get the app state, its settings and repositories from one place, over HTTP and
WebSockets alike, and no other module under api/ reads ``app.state.gs`` or builds a repository itself."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import WebSocket

from gazescope.api import deps
from gazescope.api.state import AppState
from gazescope.storage.profiles import ProfileRepository
from gazescope.storage.video_files import VideoFiles

API = Path(deps.__file__).parent
#: Built or read only in deps.py.
ONLY_IN_DEPS = re.compile(r"\.state\.gs\b|state, \"gs\"|ProfileRepository\(|VideoFiles\(")
#: Moves to deps with its fit path (issue 21, item 1, edited by another change at the same time).
PENDING: set[str] = set()


def test_only_deps_reads_the_app_state_or_builds_a_repository() -> None:
    found = []
    for path in sorted(API.rglob("*.py")):
        rel = path.relative_to(API).as_posix()
        if rel in PENDING or rel == "deps.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if ONLY_IN_DEPS.search(line.replace("``app.state.gs``", "")):
                found.append(f"api/{rel}:{n}: {line.strip()}")
    assert not found, "use gazescope.api.deps:\n" + "\n".join(found)


def test_routes_and_websockets_get_the_same_state_and_repositories(make_client) -> None:
    client = make_client()
    app = client.app
    seen: dict[str, object] = {}

    @app.get("/test-deps")
    async def probe(
        state: deps.State, settings: deps.SettingsDep, profiles: deps.Profiles, videos: deps.Videos
    ):
        seen.update(state=state, settings=settings, profiles=profiles, videos=videos)
        return {}

    @app.websocket("/test-deps-ws")
    async def probe_ws(ws: WebSocket, state: deps.State, profiles: deps.Profiles) -> None:
        seen.update(ws_state=state, ws_profiles=profiles)
        await ws.accept()
        await ws.close()

    with client:
        assert client.get("/test-deps").status_code == 200
        with client.websocket_connect("/test-deps-ws"):
            pass
        state = app.state.gs
    assert isinstance(state, AppState)
    assert seen["state"] is seen["ws_state"] is state
    assert seen["settings"] is state.settings
    for key in ("profiles", "ws_profiles"):
        repo = seen[key]
        assert isinstance(repo, ProfileRepository) and repo.store is state.store
    videos = seen["videos"]
    assert isinstance(videos, VideoFiles) and videos.folder == state.settings.stimulus_video_dir
