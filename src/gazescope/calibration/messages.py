"""The calibration messages of the tracking WebSocket as pydantic models (``docs/protocol.md``,
"Calibration over the tracking WebSocket").

Client messages are read with :func:`parse_message`: JSON ``null`` reads as an absent field, unknown fields
are ignored, and the first field that fails its bounds raises :class:`~gazescope.errors.ValidationError`
(code ``invalid_request``) naming the field and its range. Replies are :class:`Reply` models; their
:meth:`Reply.to_wire` is the JSON object sent.
"""

from __future__ import annotations

import inspect
import math
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import annotated_types
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from gazescope.calibration.profile import MAX_SCREEN_PX
from gazescope.calibration.targets import ALL_LAYOUTS
from gazescope.errors import ValidationError

#: Largest magnitude of a client number (as the WebSocket edge, which refuses larger ones before this).
MAX_CLIENT_NUMBER = 1e15
#: Most ``alphas`` a client may give the ridge mapper (each one is a leave-one-out fit per axis).
MAX_RIDGE_ALPHAS = 50
#: Most feature names per axis of the ridge mapper.
MAX_RIDGE_FEATURES = 16


# --- field types -----------------------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _number(v: Any, info: ValidationInfo) -> float:
    try:
        ok = _is_number(v) and math.isfinite(v) and abs(v) <= MAX_CLIENT_NUMBER
    except OverflowError:
        ok = False
    if not ok:
        raise ValueError(f"{info.field_name} must be a finite number, got {str(v)[:32]!r}")
    return float(v)


def _integer(v: Any, info: ValidationInfo) -> int:
    if not (_is_number(v) and abs(v) <= MAX_CLIENT_NUMBER and float(v).is_integer()):
        raise ValueError(f"{info.field_name} must be an integer, got {str(v)[:32]!r}")
    return int(v)


def _flag(v: Any, info: ValidationInfo) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"{info.field_name} must be true or false")
    return v


def _text(max_len: int) -> BeforeValidator:
    def check(v: Any, info: ValidationInfo) -> str:
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) < 10**max_len:
            v = str(v)  # e.g. "layout": 16
        if not isinstance(v, str) or not 0 < len(v) <= max_len:
            raise ValueError(f"{info.field_name} must be a string of 1-{max_len} characters")
        return v

    return BeforeValidator(check)


def _object(v: Any, info: ValidationInfo) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ValueError(f"{info.field_name} must be an object")
    return v


def _layout(v: str) -> str:
    if v not in ALL_LAYOUTS:
        raise ValueError(f"unknown calibration layout {v!r}; available: {', '.join(ALL_LAYOUTS)}")
    return v


Number = Annotated[float, BeforeValidator(_number)]
Integer = Annotated[int, BeforeValidator(_integer)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Id = Annotated[str, _text(128)]
UserId = Annotated[str, _text(256)]


# --- reading client messages -----------------------------------------------------------------------------


class Message(BaseModel):
    """Base of the client messages: unknown fields ignored, ``null`` read as absent."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data


def _fmt(v: Any) -> str:
    return str(v) if isinstance(v, int) else f"{v:g}"


def _bounds(model: type[BaseModel], name: str) -> str | None:
    """``within lo..hi`` (or ``within (lo, hi]``, ``>= lo`` ...) of a field's numeric bounds."""
    field = model.model_fields.get(name)
    if field is None:
        return None
    lo: Any = None
    hi: Any = None
    lo_open = hi_open = False
    for m in field.metadata:
        if isinstance(m, annotated_types.Ge | annotated_types.Gt):
            lo, lo_open = (m.ge, False) if isinstance(m, annotated_types.Ge) else (m.gt, True)
        elif isinstance(m, annotated_types.Le | annotated_types.Lt):
            hi, hi_open = (m.le, False) if isinstance(m, annotated_types.Le) else (m.lt, True)
    if lo is not None and hi is not None:
        if lo_open or hi_open:
            return f"within {'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}"
        return f"within {_fmt(lo)}..{_fmt(hi)}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {_fmt(lo)}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {_fmt(hi)}"
    return None


def _reason(model: type[BaseModel], err: Any, prefix: str) -> str:
    loc = [str(p) for p in err["loc"]]
    name = ".".join(loc)
    if err["type"] == "value_error":
        return prefix + str(err["ctx"]["error"])
    bounds = _bounds(model, loc[0]) if len(loc) == 1 else None
    if bounds is not None and err["type"] in (
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
    ):
        return f"{prefix}{name} must be {bounds}"
    return f"{prefix}{name}: {err['msg']}" if name else prefix + err["msg"]


M = TypeVar("M", bound=BaseModel)


def parse_message(model: type[M], body: dict[str, Any], *, prefix: str = "") -> M:
    """``body`` read as ``model``.

    Raises:
        ValidationError: (code ``invalid_request``) the first field out of its type or bounds, named,
            with the reason (``prefix`` before it, e.g. ``"cnn "``).
    """
    try:
        return model.model_validate(body)
    except PydanticValidationError as exc:
        raise ValidationError(_reason(model, exc.errors()[0], prefix)) from None


# --- client -> server ------------------------------------------------------------------------------------


class CalibrationStart(Message):
    """``calibration_start``. Absent fields take the session's or the settings' defaults (screen size,
    ``mapper``, ``user_id``, ``settle_ms``, ``samples_per_target``; ``save``: true when there is a user)."""

    layout: Annotated[str, _text(16), AfterValidator(_layout)] = "9"
    screen_w_px: Integer | None = Field(None, ge=1, le=MAX_SCREEN_PX)
    screen_h_px: Integer | None = Field(None, ge=1, le=MAX_SCREEN_PX)
    mapper: Annotated[str, _text(64)] | None = None
    mapper_params: Annotated[dict[str, Any], BeforeValidator(_object)] = Field(default_factory=dict)
    user_id: UserId | None = None
    save: Flag | None = None
    settle_ms: Number | None = Field(None, ge=0, le=10_000)
    margin_norm: Number = Field(0.1, ge=0, le=0.45)
    samples_per_target: Integer | None = Field(None, ge=1, le=100)
    duration_ms: Number | None = None
    rate_hz: Number | None = None

    @model_validator(mode="after")
    def _pursuit_bounds(self) -> CalibrationStart:
        if self.layout == "pursuit":
            d, r = self.duration_ms, self.rate_hz
            if (d is not None and not 1000 <= d <= 120_000) or (r is not None and not 1 <= r <= 120):
                raise ValueError("pursuit needs duration_ms within 1000..120000 and rate_hz within 1..120")
        return self


class CalibrationTarget(Message):
    """``calibration_target``: the client shows layout target ``index`` (a path index for ``pursuit``), or
    the screen point ``x_px``/``y_px`` (px; ``validation`` marks a custom point as a validation point)."""

    index: Integer | None = None
    x_px: Number | None = None
    y_px: Number | None = None
    validation: Flag = False


class CalibrationUse(Message):
    """``calibration_use``: apply the stored profile ``profile_id``, or the newest of ``user_id``."""

    profile_id: Id | None = None
    user_id: UserId | None = None

    @model_validator(mode="after")
    def _one_of(self) -> CalibrationUse:
        if self.profile_id is None and self.user_id is None:
            raise ValueError("calibration_use needs a profile_id or a user_id")
        return self


class CalibrationKeep(Message):
    """``calibration_keep``: keep a calibration that failed the quality gate, so later sessions reuse it:
    the profile ``profile_id``, or (absent) the one the connection's last ``calibration_result`` saved."""

    profile_id: Id | None = None


class DriftStart(Message):
    """``drift_start``: the client shows one point (``x_px``, ``y_px`` screen px); ``settle_ms`` after it
    are skipped (negative reads as 0)."""

    x_px: Number | None = None
    y_px: Number | None = None
    settle_ms: Number | None = None

    @model_validator(mode="after")
    def _point(self) -> DriftStart:
        if self.x_px is None or self.y_px is None:
            raise ValueError("drift_start needs x_px and y_px")
        return self


class Empty(Message):
    """``calibration_finish``, ``calibration_cancel``, ``drift_finish``: no fields."""


# --- mapper parameters -----------------------------------------------------------------------------------


def _cnn_defaults() -> dict[str, Any]:
    from gazescope.calibration.mappers.cnn import CnnMapper

    return {k: p.default for k, p in inspect.signature(CnnMapper.__init__).parameters.items() if k != "self"}


class CnnParams(Message):
    """``mapper_params`` of the ``cnn`` mapper (absent ones: the mapper's defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: Integer | None = Field(None, ge=1)
    time_budget_s: Number | None = Field(None, gt=0)
    lr: Number | None = Field(None, gt=0, le=1)
    weight_decay: Number | None = Field(None, ge=0, le=1)
    seed: Integer | None = Field(None, ge=0, le=2**32 - 1)


class RidgeParams(Message):
    """``mapper_params`` of the ``ridge`` mapper."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x_features: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, min_length=1, max_length=MAX_RIDGE_FEATURES
    )
    y_features: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, min_length=1, max_length=MAX_RIDGE_FEATURES
    )
    degrees: list[Annotated[int, Field(strict=True, ge=1, le=3)]] | None = Field(
        None, min_length=1, max_length=3
    )
    alphas: list[Annotated[Number, Field(gt=0, le=1e9)]] | None = Field(
        None, min_length=1, max_length=MAX_RIDGE_ALPHAS
    )


def bound_mapper_params(
    mapper: str, params: dict[str, Any], max_epochs: int, max_time_budget_s: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A client's ``mapper_params`` checked, with what a fit may cost bounded.

    ``cnn``: ``epochs`` and ``time_budget_s`` clamped to ``max_epochs`` and ``max_time_budget_s``
    (``Settings.calibration_max_epochs``, ``calibration_max_time_budget_s``; its defaults too, when
    larger). ``ridge``: at most :data:`MAX_RIDGE_ALPHAS` alphas in (0, 1e9], degrees 1..3. Other mappers'
    parameters pass unchecked (the mapper refuses unknown ones).

    Returns:
        (the parameters to use, {key: value asked} of those clamped).

    Raises:
        ValidationError: unknown keys, or values of the wrong type or out of range.
    """
    model: type[CnnParams] | type[RidgeParams]
    if mapper == "cnn":
        model = CnnParams
    elif mapper == "ridge":
        model = RidgeParams
    else:
        return dict(params), {}
    unknown = sorted(set(params) - set(model.model_fields))
    if unknown:
        known = ", ".join(model.model_fields)
        raise ValidationError(f"unknown {mapper} mapper_params {unknown}; known: {known}")
    parsed = parse_message(model, params, prefix=f"{mapper} ")
    out = parsed.model_dump(exclude_none=True)
    clamped: dict[str, Any] = {}
    if mapper == "cnn":
        defaults = _cnn_defaults()
        out = {**{k: defaults[k] for k in model.model_fields}, **out}
        for key, most in (("epochs", max_epochs), ("time_budget_s", max_time_budget_s)):
            if out[key] > most:
                clamped[key] = out[key]
                out[key] = most
    return out, clamped


#: Why a profile was applied (``calibration_applied.source``).
ProfileSource = Literal[
    "calibration_use", "session_calibration_id", "session_user_id", "seed004_fit", "seed004_saved_profile"
]


# --- server -> client ------------------------------------------------------------------------------------


class Reply(BaseModel):
    """A server message; :meth:`to_wire` leaves out the ``OPTIONAL`` fields that are None."""

    model_config = ConfigDict(frozen=True)
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()

    def to_wire(self) -> dict[str, Any]:
        """The JSON object sent to the client."""
        skip = {k for k in self.OPTIONAL if getattr(self, k) is None}
        return self.model_dump(exclude=skip)


class TargetOut(Reply):
    """A target of ``calibration_started``: position (``_norm`` 0..1 and screen ``_px``), ``validation``;
    ``t_ms`` along the path for ``pursuit``."""

    OPTIONAL = frozenset({"t_ms"})
    index: int
    t_ms: float | None = None
    x_norm: float
    y_norm: float
    validation: bool
    x_px: float
    y_px: float


class CalibrationStarted(Reply):
    """``calibration_started``; ``clamped`` only when some ``mapper_params`` were clamped."""

    OPTIONAL = frozenset({"clamped"})
    type: Literal["calibration_started"] = "calibration_started"
    calibration_id: str
    layout: str
    mapper: str
    screen_w_px: int
    screen_h_px: int
    settle_ms: float
    samples_per_target: int
    user_id: str | None
    save: bool
    mapper_params: dict[str, Any]
    clamped: dict[str, Any] | None = None
    targets: list[TargetOut]


class CalibrationProgress(Reply):
    """``calibration_progress``: usable ``samples`` of target ``index`` (at ``x_px``, ``y_px``)."""

    type: Literal["calibration_progress"] = "calibration_progress"
    calibration_id: str | None
    index: int
    x_px: float
    y_px: float
    samples: int
    needed: int
    done: bool


class PointOut(Reply):
    """One target's accuracy in ``calibration_result`` (px)."""

    index: int | None
    target_px: list[float]
    mean_px: list[float]
    error_px: float
    samples: int
    validation: bool


class QualityOut(Reply):
    """The quality gate of a calibration (:class:`~gazescope.calibration.quality.QualityGate`): its mean
    validation error and the threshold, both in % of the screen width, and whether it passed."""

    error_pct_width: float | None
    max_error_pct_width: float
    passed: bool


class CalibrationResultOut(Reply):
    """``calibration_result``; ``save_error`` only when the profile could not be stored. ``accuracy``:
    the figures of :class:`~gazescope.calibration.session.CalibrationResult` (px, % of width), plus
    ``n_sittings``, ``alone_loo_px``, ``pooled_loo_px`` when pooled with earlier sittings. ``quality``:
    the quality gate; ``accepted``: whether later sessions reuse the saved profile (the gate passed; a
    ``calibration_keep`` accepts one that failed)."""

    OPTIONAL = frozenset({"save_error"})
    type: Literal["calibration_result"] = "calibration_result"
    calibration_id: str
    profile_id: str | None
    user_id: str | None
    mapper: str
    layout: str
    screen_w_px: int
    screen_h_px: int
    accuracy: dict[str, Any]
    grade: str
    points: list[PointOut]
    counts: dict[str, int]
    quality: QualityOut
    accepted: bool
    save_error: str | None = None


class CalibrationCancelled(Reply):
    type: Literal["calibration_cancelled"] = "calibration_cancelled"
    calibration_id: str | None


class CalibrationApplied(Reply):
    """``calibration_applied``: a stored profile now maps samples; ``warning`` when it was made on another
    screen size than the session's; ``accepted`` False for a profile that failed the quality gate and was
    not kept (applied only when named by id)."""

    OPTIONAL = frozenset({"warning"})
    type: Literal["calibration_applied"] = "calibration_applied"
    profile_id: str
    user_id: str | None
    mapper: str
    layout: str | None
    screen_w_px: int
    screen_h_px: int
    accuracy: dict[str, Any]
    grade: str | None
    source: ProfileSource
    accepted: bool = True
    warning: str | None = None


class CalibrationKept(Reply):
    """``calibration_kept``: the profile is accepted from now on (later sessions and sittings reuse it)."""

    type: Literal["calibration_kept"] = "calibration_kept"
    profile_id: str
    accepted: bool = True


class DriftStarted(Reply):
    type: Literal["drift_started"] = "drift_started"
    x_px: float
    y_px: float
    settle_ms: float


class DriftResult(Reply):
    """``drift_result``: :class:`~gazescope.calibration.drift.DriftCheck` (px, % of width)."""

    type: Literal["drift_result"] = "drift_result"
    profile_id: str | None
    target_px: list[float]
    estimate_px: list[float]
    error_px: float
    error_pct_width: float
    threshold_pct_width: float
    n_samples: int
    recalibrate: bool


class ErrorReply(Reply):
    """An error to send (the transport writes it in its wire format): stable ``code``, reason."""

    code: str
    message: str
