"""FastAPI dependencies, defined once: what a route gets from the app (as full-stack-fastapi-template's
``api/deps.py``).

A route declares what it needs by type and FastAPI passes it in:

* :data:`State`: the app's :class:`~gazescope.api.state.AppState` (settings, store, hub, pools, metrics),
  created in the lifespan of :func:`gazescope.api.app.create_app` and kept as ``app.state.gs``;
* :data:`SettingsDep`: its :class:`~gazescope.config.Settings`;
* :data:`Profiles`: the calibration profiles of its store (:class:`~gazescope.storage.profiles.ProfileRepository`);
* :data:`Videos`: the stimulus video files beside the store (:class:`~gazescope.storage.video_files.VideoFiles`).

Each provider is also a plain function of its arguments, for code that is not a route: a WebSocket handler
calls ``app_state(ws)``, an engine hook ``profile_repository(conn.state)``. :func:`bind_app_state` and
:func:`app_state` are the one place that writes and reads ``app.state.gs``; nothing else in ``api/`` builds
a repository from a store.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from starlette.requests import HTTPConnection

from gazescope.api.state import AppState
from gazescope.config import Settings
from gazescope.storage.profiles import ProfileRepository
from gazescope.storage.video_files import VideoFiles


def bind_app_state(app: FastAPI, state: AppState) -> None:
    """Make ``state`` the :class:`AppState` of ``app`` (its lifespan does, once the services are up)."""
    app.state.gs = state


def app_state(conn: HTTPConnection) -> AppState:
    """The :class:`AppState` of the app serving ``conn`` (a ``Request`` or a ``WebSocket``).

    Raises:
        AttributeError: before the app's lifespan has started (no ``app.state.gs`` yet).
    """
    state: AppState = conn.app.state.gs
    return state


#: A route parameter typed ``State`` receives the app's :class:`AppState`.
State = Annotated[AppState, Depends(app_state)]


def app_settings(state: State) -> Settings:
    """The settings the app was created with (checked when they loaded)."""
    return state.settings


#: A route parameter typed ``SettingsDep`` receives the app's :class:`Settings`.
SettingsDep = Annotated[Settings, Depends(app_settings)]


def profile_repository(state: State) -> ProfileRepository:
    """The calibration profiles and records of the app's store (synchronous: call its methods through
    ``state.io``)."""
    return ProfileRepository(state.store)


#: A route parameter typed ``Profiles`` receives the :class:`ProfileRepository` of the app's store.
Profiles = Annotated[ProfileRepository, Depends(profile_repository)]


def video_files(state: State) -> VideoFiles:
    """The stimulus video files (``Settings.stimulus_video_dir``), rebuilt from the store's blobs when
    missing (synchronous: call its methods through ``state.io``)."""
    return VideoFiles(state.settings.stimulus_video_dir)


#: A route parameter typed ``Videos`` receives the :class:`VideoFiles` of the app.
Videos = Annotated[VideoFiles, Depends(video_files)]
