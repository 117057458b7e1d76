"""The one table of sample fields: name, type, unit, range or allowed values, nullability and meaning of
every field of a :class:`gazescope.domain.GazeSample` as sent, stored and exported, of the extra keys a
stored sample may carry, and of the seed protocols' own wire fields.

``docs/samples.md`` is generated from these tables (:func:`markdown`; a unit test fails when the page and
the code disagree: ``python -m gazescope.sample_fields > docs/samples.md`` rewrites it), and the end-to-end
tests check every received, stored and exported sample against them (:func:`violations`).

Bounds that depend on the run are named instead of given: ``frame_w``/``frame_h`` (the camera frame, px)
and ``screen_w``/``screen_h`` (the calibrated screen, px). Ranges are closed intervals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gazescope.domain import AttentionState, Direction

Bound = float | str | None
"""A range end: a number, the name of a run-dependent size (``frame_w`` ...), or None (unbounded)."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field: ``type`` one of ``float``, ``int``, ``bool``, ``str``, ``[float, float]`` (a pair, each
    element in the range); ``unit`` as written in the docs (``-`` for none); ``lo``/``hi`` the closed
    range (numbers or run-dependent size names); ``allowed`` the allowed strings (enums); ``nullable``
    whether null may appear; ``meaning`` one sentence."""

    name: str
    type: str
    unit: str
    meaning: str
    lo: Bound = None
    hi: Bound = None
    allowed: tuple[str, ...] = ()
    nullable: bool = False

    @property
    def range_text(self) -> str:
        """The range as the docs show it: ``0..1``, ``>= 0``, ``one of: a, b`` or ``-``."""
        if self.allowed:
            return "one of: " + ", ".join(f"`{a}`" for a in self.allowed)

        def txt(b: Bound) -> str:
            return f"{b:g}" if isinstance(b, float | int) else str(b)

        if isinstance(self.hi, str) and "|" in self.hi:
            hx, hy = self.hi.split("|")
            return f"x {txt(self.lo)}..{hx}, y {txt(self.lo)}..{hy}"
        if self.lo is not None and self.hi is not None:
            return f"{txt(self.lo)}..{txt(self.hi)}"
        if self.lo is not None:
            return f">= {txt(self.lo)}"
        if self.hi is not None:
            return f"<= {txt(self.hi)}"
        return "-"


def _f(
    name: str, type_: str, unit: str, lo: Bound, hi: Bound, meaning: str, *, null: bool = False
) -> FieldSpec:
    return FieldSpec(name, type_, unit, meaning, lo, hi, nullable=null)


def _enum(name: str, values: Iterable[str], meaning: str, *, null: bool = False) -> FieldSpec:
    return FieldSpec(name, "str", "-", meaning, allowed=tuple(values), nullable=null)


def _bool(name: str, meaning: str, *, null: bool = False) -> FieldSpec:
    return FieldSpec(name, "bool", "-", meaning, nullable=null)


ANGLE = 180.0
"""Head and gaze angles are atan2 results: within -180..180 degrees (typically -60..60)."""

SAMPLE_FIELDS: tuple[FieldSpec, ...] = (
    _f(
        "t_ms",
        "float",
        "ms",
        0.0,
        None,
        "Time of the frame: the client's timestamp when it sent one, else the server's clock since the stream began.",
    ),
    _f(
        "frame_index",
        "int",
        "-",
        0,
        None,
        "Index of the frame in its session (continues across reconnections).",
    ),
    _bool(
        "face_detected",
        "A face was found in the frame; when false every measure below is null or its no-face value.",
    ),
    _f("face_count", "int", "-", 0, None, "Faces found in the frame."),
    _f("confidence", "float", "-", 0.0, 1.0, "Confidence of the face and eye measures (0 without a face)."),
    _f(
        "pupil_left_px",
        "[float, float]",
        "px (frame)",
        0.0,
        "frame_w|frame_h",
        "Centre of the subject's own left pupil, [x, y] in frame pixels, origin top-left.",
        null=True,
    ),
    _f(
        "pupil_right_px",
        "[float, float]",
        "px (frame)",
        0.0,
        "frame_w|frame_h",
        "Centre of the subject's own right pupil, [x, y] in frame pixels.",
        null=True,
    ),
    _f(
        "horizontal_ratio",
        "float",
        "ratio",
        0.0,
        1.0,
        "Pupil between the eye corners: 0.0 at the subject's right extreme, 1.0 at their left (GazeTracking's meaning); null with closed eyes or no face.",
        null=True,
    ),
    _f(
        "vertical_ratio",
        "float",
        "ratio",
        0.0,
        1.0,
        "Pupil between the lids: 0.0 top, 1.0 bottom.",
        null=True,
    ),
    _enum(
        "direction",
        [d.value for d in Direction],
        "Horizontal gaze direction from horizontal_ratio (GazeTracking's thresholds).",
        null=True,
    ),
    _f(
        "ear_left",
        "float",
        "ratio",
        0.0,
        1.0,
        "Eye aspect ratio of the left eye (Soukupova & Cech 2016): about 0.25-0.35 open, under 0.15 closed.",
        null=True,
    ),
    _f("ear_right", "float", "ratio", 0.0, 1.0, "Eye aspect ratio of the right eye.", null=True),
    _bool("is_blinking", "The eyes are closed in a blink now."),
    _f("blink_count", "int", "-", 0, None, "Blinks completed since the stream began (cumulative)."),
    _f(
        "yaw_deg",
        "float",
        "deg",
        -ANGLE,
        ANGLE,
        "Head yaw, > 0 toward the subject's left (image right); typically within +-60.",
        null=True,
    ),
    _f("pitch_deg", "float", "deg", -ANGLE, ANGLE, "Head pitch, > 0 up.", null=True),
    _f(
        "roll_deg",
        "float",
        "deg",
        -ANGLE,
        ANGLE,
        "Head roll, > 0 toward the subject's left shoulder.",
        null=True,
    ),
    _f(
        "gaze_yaw_deg",
        "float",
        "deg",
        -ANGLE,
        ANGLE,
        "Gaze yaw (eyes in head plus head pose); 0 = toward the camera.",
        null=True,
    ),
    _f(
        "gaze_pitch_deg",
        "float",
        "deg",
        -ANGLE,
        ANGLE,
        "Gaze pitch; 0 = toward the camera, > 0 up.",
        null=True,
    ),
    _f(
        "gaze_vector",
        "[float, float]",
        "-",
        -1.0,
        1.0,
        "[x, y] gaze direction: x toward the subject's left, y down; 1.0 = 45 degrees or more off the camera axis.",
        null=True,
    ),
    _f(
        "gaze_offset_deg",
        "float",
        "deg",
        0.0,
        180.0,
        "Angle of the gaze from the person's neutral direction toward the device (running median of their gaze, kept near the camera; pitch weighted by GAZESCOPE_ATTENTION_PITCH_WEIGHT, lowered lids count as looking down); eye_contact and looking_away are judged by it. Null mid-blink or without a face.",
        null=True,
    ),
    _bool(
        "eye_contact",
        "The gaze lies within GAZESCOPE_EYE_CONTACT_CONE_DEG of the person's neutral direction toward the device (the camera or the screen around it: webcams cannot tell the lens from a point a few degrees below it).",
    ),
    _f(
        "eye_contact_pct",
        "float",
        "%",
        0.0,
        100.0,
        "Share of the last eye_contact_window_s seconds with eye contact (rolling).",
    ),
    _f("blink_rate_per_min", "float", "1/min", 0.0, None, "Blinks per minute over the blink-rate window."),
    _f(
        "perclos",
        "float",
        "ratio",
        0.0,
        1.0,
        "PERCLOS: share of the recent window with the eyes mostly closed.",
    ),
    _f("attention_score", "float", "-", 0.0, 1.0, "Attention score (1 = fully attentive)."),
    _enum("attention_state", [s.value for s in AttentionState], "Attention state, in order of precedence."),
    _f(
        "screen_x_px",
        "float",
        "px (screen)",
        0.0,
        "screen_w",
        "Gaze on the calibrated screen, x in CSS pixels of the viewport, origin top-left, clipped to the screen; null before a calibration is applied or without gaze. Client gaze points (source client_gaze) keep the point as sent: on_screen tells.",
        null=True,
    ),
    _f(
        "screen_y_px",
        "float",
        "px (screen)",
        0.0,
        "screen_h",
        "Gaze on the calibrated screen, y in CSS pixels, clipped to the screen (see screen_x_px).",
        null=True,
    ),
    _bool(
        "on_screen",
        "The unclipped gaze point lies on the screen (within the on-screen margin); null when not calibrated.",
        null=True,
    ),
    _bool(
        "head_in_range",
        "The head is within the pose range the calibration was made in; null when not calibrated.",
        null=True,
    ),
    _f("processing_ms", "float", "ms", 0.0, None, "Server time spent on the frame."),
    _f(
        "dropped_frames",
        "int",
        "-",
        0,
        None,
        "Frames dropped so far in this stream (newest frame wins under load; cumulative).",
    ),
    FieldSpec(
        "calibration_fit",
        "str",
        "-",
        "The fit that mapped screen_x_px/screen_y_px: a profile id, with +N after N click refits; null when not mapped.",
        nullable=True,
    ),
)
"""Fields of :class:`gazescope.domain.GazeSample` (``to_dict()``: sent as ``type: "sample"``, stored, and
in ``samples.csv`` with pairs split into ``_x``/``_y`` columns), in the class's order."""

STORED_EXTRA_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "stimulus_id", "str", "-", "The video stimulus playing when the frame was taken.", nullable=True
    ),
    _f("video_t_s", "float", "s", 0.0, None, "Time into that video.", null=True),
    _enum(
        "source",
        ["client_gaze", "landmarks"],
        "What the sample was measured from when not a frame: client_gaze for client gaze points (POST /api/sessions/{id}/gaze, seed 003), landmarks for a client's Face Mesh landmarks message (docs/protocol.md); null or absent for frames. Sent, stored and in samples.csv.",
        null=True,
    ),
    _f(
        "calibration_target_px",
        "[float, float]",
        "px (screen)",
        0.0,
        "screen_w|screen_h",
        "Seed 004: the dot shown while this calibration frame was taken.",
        null=True,
    ),
    _f(
        "client_t_ms",
        "float",
        "ms",
        None,
        None,
        "The client's own timestamp of the frame, echoed on the wire (any clock).",
        null=True,
    ),
)
"""Keys a sample may carry besides :data:`SAMPLE_FIELDS` (stored, exported or echoed)."""

SEED_WIRE_FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "seed 000 `/ws/session/{id}/track` reply": (
        _f("face.x", "int", "px (frame)", 0.0, "frame_w", "Face box left edge.", null=True),
        _f("face.y", "int", "px (frame)", 0.0, "frame_h", "Face box top edge.", null=True),
        _f("face.w", "int", "px (frame)", 0.0, "frame_w", "Face box width.", null=True),
        _f("face.h", "int", "px (frame)", 0.0, "frame_h", "Face box height.", null=True),
        _f(
            "gaze.horizontal",
            "float",
            "-",
            -1.0,
            1.0,
            "2 x horizontal_ratio - 1: -1 at the subject's right, +1 at their left.",
            null=True,
        ),
        _f("gaze.vertical", "float", "ratio", 0.0, 1.0, "vertical_ratio.", null=True),
        _f(
            "gaze.eyes.left",
            "[float, float]",
            "px (frame)",
            0.0,
            "frame_w|frame_h",
            "Left pupil {x, y}.",
            null=True,
        ),
        _f(
            "gaze.eyes.right",
            "[float, float]",
            "px (frame)",
            0.0,
            "frame_w|frame_h",
            "Right pupil {x, y}.",
            null=True,
        ),
        _enum("gaze_direction", [d.value for d in Direction], "direction.", null=True),
        _enum("activity", [s.value for s in AttentionState], "attention_state.", null=True),
        _f("blink_rate", "float", "1/min", 0.0, None, "blink_rate_per_min.", null=True),
    ),
    "seed 001 `/ws/gaze` `PythonGazeData`": (
        _f("timestamp", "float", "s (epoch)", 0.0, None, "When the frame arrived, epoch seconds."),
        _f(
            "pupil_left",
            "[float, float]",
            "px (frame)",
            0.0,
            "frame_w|frame_h",
            "Left pupil [x, y].",
            null=True,
        ),
        _f(
            "pupil_right",
            "[float, float]",
            "px (frame)",
            0.0,
            "frame_w|frame_h",
            "Right pupil [x, y].",
            null=True,
        ),
        _f("horizontal_ratio", "float", "ratio", 0.0, 1.0, "As the sample's horizontal_ratio.", null=True),
        _f("vertical_ratio", "float", "ratio", 0.0, 1.0, "As the sample's vertical_ratio.", null=True),
        _bool("is_left", "horizontal_ratio >= 0.65 (GazeTracking)."),
        _bool("is_right", "horizontal_ratio <= 0.35 (GazeTracking)."),
        _bool("is_center", "Neither left nor right."),
        _bool("is_blinking", "As the sample's is_blinking."),
        _f("attention_score", "float", "-", 0.0, 1.0, "As the sample's attention_score."),
        _bool("frame_processed", "The frame was processed (false on an error reply)."),
    ),
    "seed 002 `/ws` reply": (
        _f("t", "int", "ms (epoch)", 0.0, None, "Server time when the frame arrived."),
        _f("earLeft", "float", "ratio", 0.0, 1.0, "ear_left (0 without a face)."),
        _f("earRight", "float", "ratio", 0.0, 1.0, "ear_right (0 without a face)."),
        _bool("blink", "is_blinking."),
        _bool("eyeContact", "eye_contact."),
        _f(
            "eyeContactPct",
            "float",
            "ratio",
            0.0,
            1.0,
            "The seed's figure: share of frames with a face that had eye contact since the connection opened (a fraction, not a percentage).",
        ),
        _f("gazeVector", "[float, float]", "-", -1.0, 1.0, "gaze_vector ([0, 0] when unknown)."),
        _f("conf", "float", "-", 0.0, 1.0, "confidence."),
    ),
}
"""The seeds' own wire fields that carry sample values (seed 003 and 004 replies carry none: their points
and frames become stored samples, checked against :data:`SAMPLE_FIELDS`)."""


CLIENT_GAZE_FIELDS: tuple[str, ...] = (
    "t_ms", "frame_index", "face_detected", "is_blinking", "screen_x_px", "screen_y_px", "on_screen",
    "attention_state",
)  # fmt: skip
"""The fields of a sample stored from a client gaze point (``source: "client_gaze"``; seed 003 uploads and
``POST /api/sessions/{id}/gaze``): such clients measure nothing else, so the other fields are absent
(empty in the CSV). ``face_detected`` says whether the point had coordinates; ``attention_state`` is
``focused`` on the screen, ``looking_away`` off it, ``absent`` without a point."""


def split_csv_columns(specs: Sequence[FieldSpec] = SAMPLE_FIELDS) -> dict[str, FieldSpec]:
    """The CSV column name of each field (pairs split into ``<stem>_x_px``/``<stem>_y_px`` or
    ``gaze_vector_x``/``_y``) to its spec."""
    out: dict[str, FieldSpec] = {}
    for s in specs:
        if s.type.startswith("["):
            stem, unit = (s.name[:-3], "_px") if s.name.endswith("_px") else (s.name, "")
            out[f"{stem}_x{unit}"] = s
            out[f"{stem}_y{unit}"] = s
        else:
            out[s.name] = s
    return out


def _bound(b: Bound, sizes: Mapping[str, float], axis: int) -> float | None:
    if b is None or isinstance(b, float | int):
        return None if b is None else float(b)
    name = b.split("|")[axis if "|" in b else 0]
    return sizes.get(name)


def _number_ok(v: Any, type_: str) -> bool:
    if isinstance(v, bool):
        return False
    if type_ == "int":
        return isinstance(v, int) or (isinstance(v, float) and v.is_integer())
    return isinstance(v, int | float) and math.isfinite(v)


def check_value(spec: FieldSpec, v: Any, sizes: Mapping[str, float] | None = None) -> str | None:
    """Why ``v`` breaks ``spec`` (None when it fits). ``sizes``: the run's ``frame_w``, ``frame_h``,
    ``screen_w``, ``screen_h`` (a bound whose size is not given is not checked)."""
    sizes = sizes or {}
    if v is None:
        return None if spec.nullable else f"{spec.name} is null"
    if spec.allowed:
        return None if v in spec.allowed else f"{spec.name}={v!r} is not one of {spec.allowed}"
    if spec.type == "bool":
        return None if isinstance(v, bool) else f"{spec.name}={v!r} is not a bool"
    if spec.type == "str":
        return None if isinstance(v, str) else f"{spec.name}={v!r} is not a string"
    values: list[Any]
    if spec.type.startswith("["):
        if isinstance(v, Mapping):
            v = [v.get("x"), v.get("y")]
        if not isinstance(v, list | tuple) or len(v) != 2:
            return f"{spec.name}={v!r} is not a pair"
        values = list(v)
    else:
        values = [v]
    for axis, x in enumerate(values):
        if not _number_ok(x, "float" if spec.type.startswith("[") else spec.type):
            return f"{spec.name}={v!r} is not a finite {spec.type}"
        lo, hi = _bound(spec.lo, sizes, axis), _bound(spec.hi, sizes, axis)
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            return f"{spec.name}={v!r} is outside {spec.range_text} ({sizes or 'no sizes'})"
    return None


def _get(d: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    """(found, value) of a dotted name; a null on the way counts as a found null."""
    cur: Any = d
    for part in dotted.split("."):
        if cur is None:
            return True, None
        if not isinstance(cur, Mapping) or part not in cur:
            return False, None
        cur = cur[part]
    return True, cur


def violations(
    d: Mapping[str, Any],
    specs: Sequence[FieldSpec] = SAMPLE_FIELDS,
    sizes: Mapping[str, float] | None = None,
    *,
    require_all: bool = True,
) -> list[str]:
    """Every way the sample (or wire message) ``d`` breaks ``specs``: a missing field (when
    ``require_all``; a dotted name under a null parent counts as null) or a value out of its type or
    range. ``sizes`` as :func:`check_value`. Client gaze samples (``source: "client_gaze"``) need only
    :data:`CLIENT_GAZE_FIELDS` (the others absent or null) and keep their points as sent (no screen
    bounds)."""
    client_gaze = d.get("source") == "client_gaze"
    out = []
    for spec in specs:
        found, v = _get(d, spec.name)
        if client_gaze and spec.name in ("screen_x_px", "screen_y_px"):
            spec = replace(spec, lo=None, hi=None)
        if client_gaze and specs is SAMPLE_FIELDS and spec.name not in CLIENT_GAZE_FIELDS:
            if found and v is not None:
                out.append(
                    f"{spec.name}={v!r} on a client gaze sample (it measures only {CLIENT_GAZE_FIELDS})"
                )
            continue
        if not found:
            if require_all:
                out.append(f"{spec.name} is missing")
            continue
        if (why := check_value(spec, v, sizes)) is not None:
            out.append(why)
    return out


def _table(specs: Sequence[FieldSpec]) -> list[str]:
    rows = ["| field | type | unit | range | null | meaning |", "|---|---|---|---|---|---|"]
    for s in specs:
        rows.append(
            f"| `{s.name}` | {s.type} | {s.unit} | {s.range_text} | {'yes' if s.nullable else 'no'} | "
            f"{s.meaning} |"
        )
    return rows


def markdown() -> str:
    """``docs/samples.md``: the tables above as Markdown."""
    lines = [
        "# Sample fields",
        "",
        "<!-- generated by `python -m gazescope.sample_fields > docs/samples.md` from",
        "     src/gazescope/sample_fields.py; tests/unit/test_sample_fields.py fails when they disagree -->",
        "",
        'One sample per processed frame: sent to the client as `{"type": "sample", ...}` on',
        "`/ws/sessions/{id}/track` (docs/protocol.md), sent to live observers, stored",
        "(`GET /api/sessions/{id}/samples`) and exported (`GET /api/sessions/{id}/samples.csv`, where each",
        "pair `[x, y]` becomes two columns: `pupil_left_x_px`, `pupil_left_y_px`, ..., `gaze_vector_x`,",
        "`gaze_vector_y`). Ranges are closed intervals; `frame_w`/`frame_h` is the camera frame's size and",
        '`screen_w`/`screen_h` the calibrated screen\'s, in pixels. "left"/"right" of an eye are the',
        "subject's own. The end-to-end tests check every field of every sample against this table, with and",
        "without a calibration, on the native protocol, each seed protocol, the stored samples and the CSV.",
        "",
        "## Fields of every sample",
        "",
        *_table(SAMPLE_FIELDS),
        "",
        'Samples stored from client gaze points (`source: "client_gaze"`: seed 003 uploads and',
        "`POST /api/sessions/{id}/gaze`) carry only " + ", ".join(f"`{n}`" for n in CLIENT_GAZE_FIELDS) + ";",
        "their screen point is kept as sent (`on_screen` false outside the screen).",
        "",
        "## Extra keys of some samples",
        "",
        *_table(STORED_EXTRA_FIELDS),
        "",
        "## Seed protocols' own fields",
        "",
        "The seed protocols (docs/seeds.md) send sample values under their own names and ranges. Seed 003's",
        "uploads and seed 004's frames get no per-sample reply: they become stored samples (table above).",
    ]
    for title, specs in SEED_WIRE_FIELDS.items():
        lines += ["", f"### {title}", "", *_table(specs)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
