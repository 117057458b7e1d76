"""Stimuli (images or videos shown to viewers) and their areas of interest, as stored.

A stimulus is a document of the :data:`STIMULI` collection (``id``, ``name``, ``width_px``, ``height_px``,
``format``, ``bytes``, ``created_at_ms``; videos add ``kind: "video"``, see
:mod:`gazescope.services.videos`), its encoded image in the blob :func:`stimulus_blob_key`, and its AOI
list in the :data:`STIMULUS_AOIS` collection (AOIs in stimulus pixels, :mod:`gazescope.analytics.aoi`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gazescope.analytics.aoi import AOI, parse_aois
from gazescope.errors import NotFoundError, ValidationError
from gazescope.storage import Store

STIMULI = "stimuli"
"""Document collection of stimulus metadata (id, name, width_px, height_px, format, bytes, created_at_ms)."""
STIMULUS_AOIS = "stimulus_aois"
"""Document collection of each stimulus' AOI list (document id = stimulus id)."""

FILE_IMAGE_MAX_BYTES = 64 * 1024 * 1024
"""Largest stimulus image file read from disk by the CLI (``--image``)."""
FILE_IMAGE_MAX_SIDE_PX = 16384
"""Largest width or height (px) of a stimulus image file read from disk by the CLI."""


def stimulus_blob_key(stimulus_id: str) -> str:
    """Blob key of a stimulus image: ``stimuli/{id}/image``."""
    return f"stimuli/{stimulus_id}/image"


@dataclass(frozen=True, eq=False)
class StimulusData:
    """A stored stimulus: its document, encoded image bytes (None when not loaded) and AOIs."""

    doc: dict[str, Any]
    image: bytes | None
    aois: tuple[AOI, ...]

    @property
    def id(self) -> str:
        """The stimulus id."""
        return str(self.doc["id"])

    @property
    def size_px(self) -> tuple[float, float]:
        """(width, height) in stimulus pixels."""
        return float(self.doc["width_px"]), float(self.doc["height_px"])


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What decoding an uploaded image tells: ``format`` (``jpeg``/``png``) and its size in pixels."""

    format: str
    width_px: int
    height_px: int


def load_stimulus(store: Store, stimulus_id: str, *, image: bool = True) -> StimulusData:
    """The stimulus document, its image (when ``image``) and AOIs.

    Raises ``NotFoundError`` (code ``stimulus_not_found``) when unknown.
    """
    try:
        doc = store.get_document(STIMULI, stimulus_id)
    except NotFoundError:
        raise NotFoundError(f"no stimulus {stimulus_id!r}", code="stimulus_not_found") from None
    data = store.get_blob(stimulus_blob_key(stimulus_id)) if image else None
    try:
        aois = tuple(parse_aois(store.get_document(STIMULUS_AOIS, stimulus_id).get("aois") or []))
    except NotFoundError:
        aois = ()
    return StimulusData(doc, data, aois)


def list_stimuli(store: Store) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Every stimulus document with its stored AOI list (JSON dicts), newest first."""
    docs = store.list_documents(STIMULI)
    aois = {d.get("stimulus_id"): d.get("aois") or [] for d in store.list_documents(STIMULUS_AOIS)}
    docs.sort(key=lambda d: (d.get("created_at_ms") or 0.0, d["id"]), reverse=True)
    return [(d, aois.get(d["id"], [])) for d in docs]


def decode_stimulus_image(data: bytes, max_bytes: int, max_width_px: int, max_height_px: int) -> ImageFacts:
    """Decode an uploaded JPEG/PNG (:func:`gazescope.vision.frames.decode_frame`, CPU) to learn its format
    and size. Raises ``FrameTooLargeError`` over the limits, ``FrameDecodeError`` when it does not decode."""
    from gazescope.vision.frames import decode_frame, sniff_format

    img = decode_frame(data, max_bytes=max_bytes, max_width=max_width_px, max_height=max_height_px)
    return ImageFacts(str(sniff_format(data)), int(img.shape[1]), int(img.shape[0]))


def store_image_stimulus(store: Store, data: bytes, facts: ImageFacts, name: str | None) -> dict[str, Any]:
    """Store an image stimulus (blob and document, with a new id; ``name`` defaults to the id) and
    return its document. Nothing is left behind when the document cannot be written."""
    sid = uuid.uuid4().hex
    doc = {
        "id": sid,
        "name": name or sid,
        "width_px": facts.width_px,
        "height_px": facts.height_px,
        "format": facts.format,
        "bytes": len(data),
        "created_at_ms": round(time.time() * 1000.0, 3),
    }
    store.put_blob(stimulus_blob_key(sid), data)
    try:
        store.put_document(STIMULI, sid, doc)
    except Exception:
        store.delete_blob(stimulus_blob_key(sid))
        raise
    return doc


def delete_stimulus(store: Store, stimulus_id: str) -> None:
    """Delete a stimulus' AOIs, document and image (a video's own files are
    :func:`gazescope.services.videos` business and go first)."""
    store.delete_document(STIMULUS_AOIS, stimulus_id)
    store.delete_document(STIMULI, stimulus_id)
    store.delete_blob(stimulus_blob_key(stimulus_id))


def aoi_json(aoi: AOI) -> dict[str, Any]:
    """An AOI as the JSON the API stores and answers (``None`` fields left out)."""
    return aoi.model_dump(mode="json", exclude_none=True)


def check_aois(aois: Sequence[Any], width_px: float, height_px: float) -> list[AOI]:
    """Parse AOIs (AOI values, typed shapes or JSON dicts: :func:`gazescope.analytics.aoi.parse_aois`) and check that each overlaps the
    ``width_px`` x ``height_px`` stimulus. Raises ``ValidationError`` naming the bad AOI."""
    parsed = parse_aois(aois)
    for a in parsed:
        x0, y0, x1, y1 = a.bbox_px
        if x1 <= 0 or y1 <= 0 or x0 >= width_px or y0 >= height_px:
            raise ValidationError(
                f"AOI {a.name!r} (x {x0:g}..{x1:g}, y {y0:g}..{y1:g}) lies outside the "
                f"{width_px:g}x{height_px:g} stimulus; AOIs are in stimulus pixels"
            )
    return parsed


def replace_aois(store: Store, stim: StimulusData, aois: Sequence[Any]) -> list[dict[str, Any]]:
    """Check (:func:`check_aois`; a video's AOI must start before the video ends) and store ``aois`` as
    the stimulus' AOI list, replacing the old one; returns them as stored. ``ValidationError`` naming the
    first bad AOI, and nothing is stored then."""
    parsed = check_aois(aois, *stim.size_px)
    duration = stim.doc.get("duration_s")
    for a in parsed:
        if stim.doc.get("kind") == "video" and a.start_s is not None and a.start_s >= float(duration or 0.0):
            raise ValidationError(f"AOI {a.name!r} starts at {a.start_s:g} s, after the video ends")
    out = [aoi_json(a) for a in parsed]
    doc = {"stimulus_id": stim.id, "aois": out, "updated_at_ms": round(time.time() * 1000.0, 3)}
    store.put_document(STIMULUS_AOIS, stim.id, doc)
    return out


def stimulus_from_files(image: Path | None, aois: Path | None) -> StimulusData | None:
    """A stimulus from an image file (size from decoding it, limits :data:`FILE_IMAGE_MAX_BYTES` and
    :data:`FILE_IMAGE_MAX_SIDE_PX`) and an AOI file (a JSON list of AOIs in stimulus px, or
    ``{"aois": [...]}``); None without an image. ``ValidationError`` for AOIs without an image or a file
    that is not JSON; ``FrameDecodeError`` for an image that does not decode."""
    if image is None:
        if aois is not None:
            raise ValidationError("--aois needs --image (AOIs are in stimulus pixels)")
        return None
    from gazescope.vision.frames import decode_frame, sniff_format

    data = image.read_bytes()
    arr = decode_frame(
        data,
        max_bytes=FILE_IMAGE_MAX_BYTES,
        max_width=FILE_IMAGE_MAX_SIDE_PX,
        max_height=FILE_IMAGE_MAX_SIDE_PX,
    )
    doc = {
        "id": image.stem,
        "name": image.name,
        "width_px": int(arr.shape[1]),
        "height_px": int(arr.shape[0]),
        "format": sniff_format(data),
    }
    parsed: list[AOI] = []
    if aois is not None:
        try:
            raw = json.loads(aois.read_text())
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{aois} is not JSON: {exc}") from exc
        parsed = parse_aois(raw.get("aois") if isinstance(raw, dict) else raw)
    return StimulusData(doc, data, tuple(parsed))
