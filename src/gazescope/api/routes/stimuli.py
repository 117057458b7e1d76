"""Stimuli (images shown to viewers) and their areas of interest (AOIs), under ``/api/stimuli``.

* ``POST /api/stimuli``: multipart ``file`` (JPEG or PNG, at most ``Settings.max_stimulus_bytes`` and
  ``max_frame_width`` x ``max_frame_height`` pixels, checked by :func:`gazescope.vision.frames.decode_frame`)
  and optional ``name``; the image is stored as a blob (an explicit upload), the stimulus document records
  ``id``, ``name``, ``width_px``, ``height_px``, ``format``, ``bytes``, ``created_at_ms``. 201 with it.
* ``GET /api/stimuli`` (newest first), ``GET /api/stimuli/{id}`` (with its AOIs),
  ``GET /api/stimuli/{id}/image`` (the stored bytes), ``DELETE /api/stimuli/{id}`` (image, document and
  AOIs; sessions keep their ``stimulus_id`` and are analysed on the screen from then on).
* Videos (MP4/WebM, :mod:`gazescope.api.stimulus_videos`): the same ``POST`` (at most
  ``Settings.max_stimulus_video_bytes``), ``kind: "video"`` with ``fps``, ``frame_count``, ``duration_s``;
  ``GET /api/stimuli/{id}/video`` serves the file with range requests; ``/image`` is its first frame.
* ``PUT /api/stimuli/{id}/aois`` with ``{"aois": [AOI, ...]}`` replaces the AOI list (each AOI typed as
  :data:`gazescope.analytics.aoi.AOIShape`: ``RectAOI`` ``{"name", "kind": "rect", "x_px", "y_px", "w_px",
  "h_px"}`` (``kind`` may be left out) or ``PolygonAOI`` ``{"name", "kind": "polygon", "points_px": [[x, y],
  ...]}`` in stimulus pixels, both with optional ``start_s``/``end_s`` on a video; names unique; every AOI
  must overlap the image). A bad AOI is a 422 whose ``detail`` names the AOI and field (code
  ``invalid_aoi``). ``GET /api/stimuli/{id}/aois``.

A session shows a stimulus when it is created with ``stimulus_id``; its gaze (viewport px) is scaled into
stimulus px when the sizes differ (the stimulus fills the viewport). The analyses across the sessions of a
stimulus are in :mod:`gazescope.api.routes.analytics`; the store side is :mod:`gazescope.services.stimuli`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, Response, UploadFile, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gazescope.analytics.aoi import AOIShape, aoi_error_text
from gazescope.api import logs
from gazescope.api.deps import State
from gazescope.api.limits import GuardedRoute
from gazescope.api.models import ErrorOut
from gazescope.api.security import require_token
from gazescope.api.stimulus_videos import create_video_stimulus, delete_video_files, video_path
from gazescope.domain import ResourceId
from gazescope.errors import FrameTooLargeError
from gazescope.services import quotas, stimuli
from gazescope.services.stimuli import aoi_json, load_stimulus
from gazescope.services.videos import is_video, media_type
from gazescope.vision.video import sniff_video_format

MAX_AOIS = 500
"""Most AOIs on one stimulus."""

router = APIRouter(
    route_class=GuardedRoute,
    prefix="/api/stimuli",
    tags=["stimuli"],
    dependencies=[Depends(require_token)],
    responses={
        401: {"model": ErrorOut},
        404: {"model": ErrorOut},
        413: {"model": ErrorOut},
        422: {"model": ErrorOut},
        503: {"model": ErrorOut},
    },
)


class StimulusOut(BaseModel):
    """A stored stimulus: size in pixels, encoded ``format`` (jpeg/png) and ``bytes``, ``aoi_count``;
    ``aois`` in the single-stimulus reply."""

    id: str
    name: str
    width_px: int
    height_px: int
    format: str
    bytes: int
    created_at_ms: float
    aoi_count: int = 0
    image_url: str
    aois: list[dict[str, Any]] | None = None
    kind: str = "image"
    video_url: str | None = None
    fps: float | None = None
    frame_count: int | None = None
    duration_s: float | None = None

    @classmethod
    def of(cls, doc: dict[str, Any], aois: list[dict[str, Any]] | None, *, detail: bool) -> StimulusOut:
        fields = {
            k: doc[k] for k in ("id", "name", "width_px", "height_px", "format", "bytes", "created_at_ms")
        }
        video: dict[str, Any] = {k: doc[k] for k in ("fps", "frame_count", "duration_s") if k in doc}
        if doc.get("kind") == "video":
            video.update(kind="video", video_url=f"/api/stimuli/{doc['id']}/video")
        return cls(
            **fields,
            **video,
            aoi_count=len(aois or []),
            image_url=f"/api/stimuli/{doc['id']}/image",
            aois=(aois or []) if detail else None,
        )


class AOIList(BaseModel):
    """Body of ``PUT /api/stimuli/{id}/aois`` and reply of the AOI routes."""

    model_config = ConfigDict(extra="forbid")

    aois: list[AOIShape] = Field(..., max_length=MAX_AOIS, description="AOIs in stimulus pixels.")


class AOIListOut(AOIList):
    stimulus_id: str


class _AOIRoute(GuardedRoute):
    """A route whose body errors are one readable sentence naming the AOI and field (code
    ``invalid_aoi``) instead of pydantic's error list."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def readable(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                errors = list(exc.errors())
                body = exc.body if isinstance(exc.body, dict) else {}
                aoi_errors = [e for e in errors if tuple(e.get("loc", ()))[:2] == ("body", "aois")]
                texts = [aoi_error_text(aoi_errors, body.get("aois"), loc_prefix=2)] if aoi_errors else []
                for e in errors:
                    loc = [str(x) for x in tuple(e.get("loc", ()))[1:] if not isinstance(x, int)]
                    if tuple(e.get("loc", ()))[:2] == ("body", "aois"):
                        continue
                    if e.get("type") == "extra_forbidden":
                        texts.append(
                            f'{".".join(loc)}: extra field not allowed (the body is {{"aois": [...]}})'
                        )
                    else:
                        texts.append(f"{'.'.join(loc) or 'body'}: {e.get('msg', 'invalid')}")
                return JSONResponse({"detail": ". ".join(texts), "code": "invalid_aoi"}, status_code=422)

        return readable


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StimulusOut)
async def create_stimulus(
    state: State,
    file: Annotated[UploadFile, File(description="The stimulus: a JPEG/PNG image or an MP4/WebM video.")],
    name: Annotated[str | None, Form(max_length=200, description="Label (default: the file name).")] = None,
) -> StimulusOut:
    """Upload a stimulus image (JPEG/PNG) or video (MP4/WebM, see :mod:`gazescope.api.stimulus_videos`).
    413 over the size limits, 400 for a file that does not decode."""
    s = state.settings
    data = await file.read(max(s.max_stimulus_bytes, s.max_stimulus_video_bytes) + 1)
    label = (name or "").strip() or (file.filename or "").strip()[:200] or None
    await state.io(quotas.check_new_stimulus, state.store, s.quotas, len(data))
    video_fmt = sniff_video_format(data[:16])
    if video_fmt is not None:
        try:
            doc = await create_video_stimulus(state, data, video_fmt, label)
        except FrameTooLargeError as exc:
            raise HTTPException(413, exc.message) from None
        return StimulusOut.of(doc, [], detail=True)
    if len(data) > s.max_stimulus_bytes:
        raise HTTPException(
            413,
            f"stimulus image exceeds the limit of {s.max_stimulus_bytes} bytes (GAZESCOPE_MAX_STIMULUS_BYTES)",
        )
    try:
        facts = await state.cpu(
            stimuli.decode_stimulus_image, data, s.max_stimulus_bytes, s.max_frame_width, s.max_frame_height
        )
    except FrameTooLargeError as exc:
        raise HTTPException(413, exc.message) from None
    doc = await state.io(stimuli.store_image_stimulus, state.store, data, facts, label)
    logs.event(
        "stimulus_created", stimulus_id=doc["id"], width_px=facts.width_px, height_px=facts.height_px,
        bytes=len(data),
    )  # fmt: skip
    return StimulusOut.of(doc, [], detail=True)


@router.get("", response_model=list[StimulusOut])
async def list_stimuli(state: State) -> list[StimulusOut]:
    """All stimuli, newest first, with their AOI counts."""
    listed = await state.io(stimuli.list_stimuli, state.store)
    return [StimulusOut.of(doc, aois, detail=False) for doc, aois in listed]


@router.get("/{stimulus_id}", response_model=StimulusOut)
async def get_stimulus(state: State, stimulus_id: ResourceId) -> StimulusOut:
    """One stimulus with its AOIs (404 when unknown)."""
    stim = await state.io(load_stimulus, state.store, stimulus_id, image=False)
    return StimulusOut.of(stim.doc, [aoi_json(a) for a in stim.aois], detail=True)


@router.get(
    "/{stimulus_id}/image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}},
)
async def get_stimulus_image(state: State, stimulus_id: ResourceId) -> Response:
    """The stored image bytes (``image/jpeg`` or ``image/png``)."""
    stim = await state.io(load_stimulus, state.store, stimulus_id, image=True)
    media = "image/png" if stim.doc.get("format") == "png" else "image/jpeg"
    return Response(stim.image, media_type=media, headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/{stimulus_id}/video",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}, "video/webm": {}}}, 206: {"description": "A byte range"}},
)
async def get_stimulus_video(state: State, stimulus_id: ResourceId) -> FileResponse:
    """The stored video (``video/mp4`` or ``video/webm``), with range requests (206) for seeking players.
    404 ``not_a_video`` for an image stimulus."""
    stim = await state.io(load_stimulus, state.store, stimulus_id, image=False)
    path = await video_path(state, stim.doc)
    return FileResponse(
        path, media_type=media_type(stim.doc), headers={"Cache-Control": "private, max-age=3600"}
    )


router.add_api_route("/{stimulus_id}/video", get_stimulus_video, methods=["HEAD"], include_in_schema=False)


@router.delete("/{stimulus_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_stimulus(state: State, stimulus_id: ResourceId) -> Response:
    """Delete the stimulus: its document, image and AOIs (204; 404 when unknown)."""
    stim = await state.io(load_stimulus, state.store, stimulus_id, image=False)
    if is_video(stim.doc):
        await delete_video_files(state, stim.doc)
    await state.io(stimuli.delete_stimulus, state.store, stimulus_id)
    logs.event("stimulus_deleted", stimulus_id=stimulus_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def put_aois(state: State, stimulus_id: ResourceId, body: AOIList) -> dict[str, Any]:
    """Replace the stimulus' AOIs (422 naming the first invalid AOI and its field; nothing is stored
    then)."""
    stim = await state.io(load_stimulus, state.store, stimulus_id, image=False)
    out = await state.io(stimuli.replace_aois, state.store, stim, list(body.aois))
    logs.event("stimulus_aois_set", stimulus_id=stimulus_id, count=len(out))
    return {"stimulus_id": stimulus_id, "aois": out}


router.add_api_route(
    "/{stimulus_id}/aois",
    put_aois,
    methods=["PUT"],
    response_model=AOIListOut,
    response_model_exclude_none=True,
    route_class_override=_AOIRoute,
)


@router.get("/{stimulus_id}/aois", response_model=AOIListOut, response_model_exclude_none=True)
async def get_aois(state: State, stimulus_id: ResourceId) -> dict[str, Any]:
    """The stimulus' AOIs (an empty list before any are set)."""
    stim = await state.io(load_stimulus, state.store, stimulus_id, image=False)
    return {"stimulus_id": stimulus_id, "aois": [aoi_json(a) for a in stim.aois]}
