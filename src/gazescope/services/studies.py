"""Studies: a researcher's composed sequence of stimuli, sent to participants as one link (docs/studies.md).

A study record (stored by :meth:`Store.save_study <gazescope.storage.base.Store.save_study>`) holds the
researcher's :class:`StudySpec` (name, consent text, instructions, calibration gate, ordered stimuli with
their display durations, optional randomised order, participant fields, target number of participants),
its ``status`` (``open``/``closed``) and the SHA-256 of its participant link token (the token itself is
shown once, at creation or rotation, and never stored).

A participant record (:meth:`Store.save_participant`) holds the hash of the participant's own secret, the
answers to the study's fields, the order the stimuli are shown in, the session of each stimulus, the
stimuli completed, the calibration attempts and the researcher's ``excluded`` flag. Each participant
session is linked to its study by a document of :data:`STUDY_SESSIONS` (deleted with the session).

Errors: ``ValidationError`` (422) naming the bad value; ``NotFoundError`` (404) for an unknown study or
participant; :class:`StudyAccessError` (401/403/409/410 with a reason) for what a link holder may not do.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gazescope.config import StudySettings
from gazescope.domain import ResourceId, SessionInfo
from gazescope.errors import AccessDeniedError, NotFoundError, ValidationError
from gazescope.services.stimuli import STIMULI
from gazescope.storage import Store
from gazescope.storage.profiles import RESULTS

#: Prefix of participant link tokens (tells them apart from the API token and session tokens).
LINK_TOKEN_PREFIX = "gsl1_"
#: Document collection linking a participant session to its study (document id = session id).
STUDY_SESSIONS = "study_sessions"
#: Calibration layouts a study may ask for (:data:`gazescope.calibration.targets.ALL_LAYOUTS`).
LAYOUTS: tuple[str, ...] = ("5", "9", "13", "16", "pursuit")

Status = Literal["open", "closed"]


class StudyAccessError(AccessDeniedError):
    """What a participant link may not do, with the HTTP status the API answers (401 unknown or revoked
    link, 403 not allowed, 409 out of order, 410 study closed)."""

    code = "study_access"


# --- the researcher's study ------------------------------------------------------------------------------


class CalibrationGate(BaseModel):
    """The calibration a participant goes through before the stimuli, and its quality gate."""

    model_config = ConfigDict(extra="forbid")

    layout: str = Field("9", description="Target layout: '5', '9', '13', '16' or 'pursuit'.")
    max_error_pct: float | None = Field(
        None,
        gt=0,
        le=100,
        description="Largest validation error, % of the screen width, that passes (default "
        "GAZESCOPE_STUDY_DEFAULT_MAX_ERROR_PCT).",
    )
    max_tries: int | None = Field(
        None, ge=1, le=20, description="Attempts (default GAZESCOPE_STUDY_DEFAULT_MAX_CALIBRATION_TRIES)."
    )
    required: bool = Field(True, description="Stimulus sessions are refused until a calibration passes.")


class StudyStimulus(BaseModel):
    """One stimulus of the study: an image shown ``duration_s`` seconds, or a video played to its end."""

    model_config = ConfigDict(extra="forbid")

    stimulus_id: ResourceId
    duration_s: float | None = Field(
        None, gt=0, description="Images: display time (s); videos: leave out (their length)."
    )


class ParticipantField(BaseModel):
    """A question asked to each participant: free text, or one of ``choices`` (e.g. a group)."""

    model_config = ConfigDict(extra="forbid")

    name: ResourceId = Field(..., description="Key of the answer (letters, digits, '_', '.', '-').")
    label: str = Field("", description="The question as shown (default: the name).")
    kind: Literal["text", "choice"] = "text"
    choices: list[str] = Field(default_factory=list)
    required: bool = True


class StudySpec(BaseModel):
    """Body of ``POST /api/studies``: what the researcher composes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1)
    consent_text: str = Field("", description="Shown before anything is recorded.")
    instructions: str = ""
    calibration: CalibrationGate = Field(default_factory=CalibrationGate)
    stimuli: list[StudyStimulus] = Field(..., min_length=1)
    randomize: bool = Field(False, description="Each participant sees the stimuli in a random order.")
    fields: list[ParticipantField] = Field(default_factory=list)
    target_participants: int | None = Field(None, ge=1)


class StudyUpdate(BaseModel):
    """Body of ``PATCH /api/studies/{id}``: the fields to change (participants who started keep the
    stimulus order they were given)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1)
    consent_text: str | None = None
    instructions: str | None = None
    calibration: CalibrationGate | None = None
    stimuli: list[StudyStimulus] | None = Field(None, min_length=1)
    randomize: bool | None = None
    fields: list[ParticipantField] | None = None
    target_participants: int | None = Field(None, ge=1)


def _now_ms() -> float:
    return round(time.time() * 1000.0, 3)


def token_hash(token: str) -> str:
    """The hex SHA-256 of a link token or participant secret (what is stored)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_link_token(settings: StudySettings) -> str:
    """A fresh participant link token: :data:`LINK_TOKEN_PREFIX` and ``secrets.token_urlsafe`` of
    ``settings.study_link_token_bytes`` random bytes."""
    return LINK_TOKEN_PREFIX + secrets.token_urlsafe(settings.study_link_token_bytes)


def is_link_token(value: str | None) -> bool:
    """Whether ``value`` has the form of a participant link token (it may still be unknown)."""
    return bool(value) and str(value).startswith(LINK_TOKEN_PREFIX)


def _check_text(what: str, value: str, limit: int, setting: str) -> None:
    if len(value) > limit:
        raise ValidationError(
            f"{what} has {len(value)} characters, more than {limit} (GAZESCOPE_{setting.upper()})",
            code="study_too_large",
        )


def resolve_stimuli(
    store: Store, items: Sequence[StudyStimulus], settings: StudySettings
) -> list[dict[str, Any]]:
    """The study's stimulus list as stored: each existing stimulus with its ``kind``, ``name``, size and
    ``duration_s`` (images: given, else ``study_default_image_duration_s``; videos: their length).

    Raises ``ValidationError``: an unknown stimulus id (code ``unknown_stimulus``), a stimulus listed
    twice, a video given a duration, an image duration above ``study_max_image_duration_s``, more than
    ``study_max_stimuli`` stimuli."""
    if len(items) > settings.study_max_stimuli:
        raise ValidationError(
            f"a study holds at most {settings.study_max_stimuli} stimuli (GAZESCOPE_STUDY_MAX_STIMULI), "
            f"got {len(items)}",
            code="study_too_large",
        )
    out, seen = [], set()
    for i, item in enumerate(items):
        if item.stimulus_id in seen:
            raise ValidationError(f"stimuli[{i}]: stimulus {item.stimulus_id!r} is listed twice")
        seen.add(item.stimulus_id)
        try:
            doc = store.get_document(STIMULI, item.stimulus_id)
        except NotFoundError:
            raise ValidationError(
                f"stimuli[{i}]: no stimulus {item.stimulus_id!r} (upload it with POST /api/stimuli first)",
                code="unknown_stimulus",
            ) from None
        kind = "video" if doc.get("kind") == "video" else "image"
        if kind == "video":
            if item.duration_s is not None:
                raise ValidationError(
                    f"stimuli[{i}]: {item.stimulus_id!r} is a video and plays its length "
                    f"({doc.get('duration_s')} s); leave duration_s out"
                )
            duration = float(doc.get("duration_s") or 0.0)
        else:
            duration = item.duration_s or settings.study_default_image_duration_s
            if duration > settings.study_max_image_duration_s:
                raise ValidationError(
                    f"stimuli[{i}]: duration_s {duration:g} is above {settings.study_max_image_duration_s:g} "
                    "(GAZESCOPE_STUDY_MAX_IMAGE_DURATION_S)"
                )
        out.append(
            {
                "stimulus_id": item.stimulus_id,
                "kind": kind,
                "name": doc.get("name"),
                "width_px": doc.get("width_px"),
                "height_px": doc.get("height_px"),
                "duration_s": duration,
            }
        )
    return out


def _check_fields(fields: Sequence[ParticipantField], settings: StudySettings) -> list[dict[str, Any]]:
    if len(fields) > settings.study_max_fields:
        raise ValidationError(
            f"a study asks at most {settings.study_max_fields} fields (GAZESCOPE_STUDY_MAX_FIELDS), "
            f"got {len(fields)}",
            code="study_too_large",
        )
    names: set[str] = set()
    out = []
    for i, f in enumerate(fields):
        if f.name in names:
            raise ValidationError(f"fields[{i}]: field name {f.name!r} is used twice")
        names.add(f.name)
        _check_text(f"fields[{i}].label", f.label, settings.study_max_name_chars, "study_max_name_chars")
        if f.kind == "choice":
            choices = [c.strip() for c in f.choices]
            if len(choices) < 2 or len(set(choices)) != len(choices) or not all(choices):
                raise ValidationError(
                    f"fields[{i}] ({f.name!r}): a choice field needs 2 or more distinct choices"
                )
            if len(choices) > settings.study_max_choices:
                raise ValidationError(
                    f"fields[{i}] ({f.name!r}): more than {settings.study_max_choices} choices "
                    "(GAZESCOPE_STUDY_MAX_CHOICES)"
                )
            for c in choices:
                _check_text(f"fields[{i}] choice", c, settings.study_max_name_chars, "study_max_name_chars")
        elif f.choices:
            raise ValidationError(f"fields[{i}] ({f.name!r}): only a 'choice' field has choices")
        out.append({**f.model_dump(), "label": f.label or f.name, "choices": [c.strip() for c in f.choices]})
    return out


def _content(store: Store, spec: StudySpec | StudyUpdate, settings: StudySettings) -> dict[str, Any]:
    """The checked study fields of ``spec`` that are set (``ValidationError`` naming the first bad one)."""
    given = spec.model_dump(exclude_unset=True) if isinstance(spec, StudyUpdate) else spec.model_dump()
    out: dict[str, Any] = {}
    if spec.name is not None:
        name = spec.name.strip()
        if not name:
            raise ValidationError("name must not be blank")
        _check_text("name", name, settings.study_max_name_chars, "study_max_name_chars")
        out["name"] = name
    for key in ("consent_text", "instructions"):
        value = getattr(spec, key)
        if value is not None:
            _check_text(key, value, settings.study_max_text_chars, "study_max_text_chars")
            out[key] = value
    if spec.calibration is not None:
        gate = spec.calibration
        if gate.layout not in LAYOUTS:
            raise ValidationError(f"calibration.layout {gate.layout!r} is not one of {', '.join(LAYOUTS)}")
        out["calibration"] = {
            "layout": gate.layout,
            "max_error_pct": gate.max_error_pct or settings.study_default_max_error_pct,
            "max_tries": gate.max_tries or settings.study_default_max_calibration_tries,
            "required": gate.required,
        }
    if spec.stimuli is not None:
        out["stimuli"] = resolve_stimuli(store, spec.stimuli, settings)
    if spec.randomize is not None:
        out["randomize"] = spec.randomize
    if spec.fields is not None:
        out["fields"] = _check_fields(spec.fields, settings)
    if "target_participants" in given:
        target = spec.target_participants
        if target is not None and target > settings.study_max_participants:
            raise ValidationError(
                f"target_participants {target} is above {settings.study_max_participants} "
                "(GAZESCOPE_STUDY_MAX_PARTICIPANTS)"
            )
        out["target_participants"] = target
    return out


def create_study(store: Store, spec: StudySpec, settings: StudySettings) -> tuple[dict[str, Any], str]:
    """Check and store a new open study; returns ``(record, link token)`` (the token is not stored, only
    its hash). ``ValidationError`` as :func:`resolve_stimuli` and for text over the limits."""
    content = _content(store, spec, settings)
    token = new_link_token(settings)
    now = _now_ms()
    record = {
        "id": uuid.uuid4().hex,
        "created_at_ms": now,
        "updated_at_ms": now,
        "status": "open",
        "closed_at_ms": None,
        "token_hash": token_hash(token),
        "token_created_at_ms": now,
        "consent_text": "",
        "instructions": "",
        "randomize": False,
        "fields": [],
        "target_participants": None,
        **content,
    }
    store.save_study(record)
    return record, token


def update_study(
    store: Store, study_id: str, changes: StudyUpdate, settings: StudySettings
) -> dict[str, Any]:
    """Apply ``changes`` to a study; returns the record. ``NotFoundError``, ``ValidationError``."""
    record = store.get_study(study_id)
    record.update(_content(store, changes, settings), updated_at_ms=_now_ms())
    store.save_study(record)
    return record


def set_status(store: Store, study_id: str, status: Status) -> dict[str, Any]:
    """Close (new participants refused) or reopen a study; returns the record."""
    record = store.get_study(study_id)
    if record["status"] != status:
        record.update(status=status, closed_at_ms=_now_ms() if status == "closed" else None)
        store.save_study(record)
    return record


def rotate_link(store: Store, study_id: str, settings: StudySettings) -> tuple[dict[str, Any], str]:
    """A new link token for the study; the old one stops working at once. Returns ``(record, token)``."""
    record = store.get_study(study_id)
    token = new_link_token(settings)
    record.update(token_hash=token_hash(token), token_created_at_ms=_now_ms())
    store.save_study(record)
    return record, token


def study_of_link(store: Store, token: str | None) -> dict[str, Any]:
    """The study a link token opens. :class:`StudyAccessError` 401 (``study_link_invalid``) when the token
    is missing, unknown or revoked."""
    if not is_link_token(token):
        raise StudyAccessError(
            "a participant link token is needed: 'Authorization: Bearer gsl1_...' or ?token=",
            status=401,
            code="study_link_invalid",
        )
    study = store.find_study_by_token_hash(token_hash(str(token)))
    if study is None:
        raise StudyAccessError(
            "this study link is unknown or was revoked (ask the researcher for the current link)",
            status=401,
            code="study_link_invalid",
        )
    return study


def participant_view(study: Mapping[str, Any]) -> dict[str, Any]:
    """What a link holder reads of the study: no token hash, no participants."""
    keys = ("id", "name", "status", "consent_text", "instructions", "calibration", "fields", "randomize")
    out = {k: study.get(k) for k in keys}
    out["stimuli"] = [
        {
            **s,
            "image_url": f"/api/participate/stimuli/{s['stimulus_id']}/image",
            "video_url": f"/api/participate/stimuli/{s['stimulus_id']}/video"
            if s["kind"] == "video"
            else None,
        }
        for s in study["stimuli"]
    ]
    return out


def study_stimulus(study: Mapping[str, Any], stimulus_id: str) -> dict[str, Any]:
    """The study's entry of ``stimulus_id``; :class:`StudyAccessError` 403 when it is not in the study."""
    for s in study["stimuli"]:
        if s["stimulus_id"] == stimulus_id:
            return dict(s)
    raise StudyAccessError(
        f"stimulus {stimulus_id!r} is not part of this study", status=403, code="not_in_study"
    )


# --- participants ------------------------------------------------------------------------------------------


def check_answers(
    study: Mapping[str, Any], answers: Mapping[str, Any], settings: StudySettings
) -> dict[str, str]:
    """The participant's answers after checking them against the study's fields (``ValidationError``:
    an unknown field, a missing required answer, a choice not offered, a text too long)."""
    fields = {f["name"]: f for f in study.get("fields") or []}
    unknown = sorted(set(answers) - set(fields))
    if unknown:
        raise ValidationError(
            f"unknown field(s) {', '.join(unknown)}; this study asks: {', '.join(fields) or 'none'}"
        )
    out: dict[str, str] = {}
    for name, f in fields.items():
        value = answers.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if f["required"]:
                raise ValidationError(f"field {name!r} ({f['label']}) needs an answer")
            continue
        if not isinstance(value, str):
            raise ValidationError(f"field {name!r}: the answer must be text")
        value = value.strip()
        if f["kind"] == "choice" and value not in f["choices"]:
            raise ValidationError(f"field {name!r}: {value[:100]!r} is not one of {', '.join(f['choices'])}")
        _check_text(f"answer to {name!r}", value, settings.study_max_answer_chars, "study_max_answer_chars")
        out[name] = value
    return out


def add_participant(
    store: Store, study: Mapping[str, Any], answers: Mapping[str, Any], settings: StudySettings
) -> tuple[dict[str, Any], str]:
    """A new participant of an open study; returns ``(record, participant secret)`` (only the secret's hash
    is stored). :class:`StudyAccessError` 410 ``study_closed`` when the study is closed, 403 ``study_full``
    at ``study_max_participants``; ``ValidationError`` for bad answers."""
    if study["status"] != "open":
        raise StudyAccessError(
            "this study is closed and takes no new participants", status=410, code="study_closed"
        )
    if len(store.list_participants(study["id"])) >= settings.study_max_participants:
        raise StudyAccessError(
            f"this study has its {settings.study_max_participants} participants (GAZESCOPE_STUDY_MAX_PARTICIPANTS)",
            status=403,
            code="study_full",
        )
    checked = check_answers(study, answers, settings)
    order = [s["stimulus_id"] for s in study["stimuli"]]
    if study.get("randomize"):
        random.SystemRandom().shuffle(order)
    secret = secrets.token_urlsafe(24)
    record = {
        "id": uuid.uuid4().hex,
        "created_at_ms": _now_ms(),
        "secret_hash": token_hash(secret),
        "answers": checked,
        "order": order,
        "sessions": {},
        "calibration_sessions": [],
        "completed": [],
        "calibrations": [],
        "finished_at_ms": None,
        "excluded": False,
        "exclusion_reason": None,
    }
    store.save_participant(study["id"], record)
    return record, secret


def participant_of(
    store: Store, study: Mapping[str, Any], participant_id: str, secret: str | None
) -> dict[str, Any]:
    """The participant record, when ``secret`` is its secret. :class:`StudyAccessError` 403
    (``participant_secret``) otherwise, also for an unknown participant (nothing tells them apart)."""
    try:
        record = store.get_participant(study["id"], participant_id)
    except NotFoundError:
        record = None
    if record is None or not secret or not hmac.compare_digest(token_hash(secret), record["secret_hash"]):
        raise StudyAccessError(
            "unknown participant or wrong participant secret (header X-Participant-Secret)",
            status=403,
            code="participant_secret",
        )
    return record


def calibration_passed(participant: Mapping[str, Any]) -> bool:
    """Whether one of the participant's calibration attempts passed the gate."""
    return any(c.get("passed") for c in participant.get("calibrations") or [])


def remaining_stimuli(study: Mapping[str, Any], participant: Mapping[str, Any]) -> list[str]:
    """The participant's stimuli still to see, in their order; a stimulus the researcher has since taken
    out of the study is skipped."""
    current = {s["stimulus_id"] for s in study["stimuli"]}
    done = set(participant["completed"])
    return [s for s in participant["order"] if s not in done and s in current]


def progress(study: Mapping[str, Any], participant: Mapping[str, Any]) -> dict[str, Any]:
    """Where the participant stands: the next stimulus (None when done), completed count, calibration
    attempts left. What a returning participant reads to continue."""
    done = set(participant["completed"])
    remaining = remaining_stimuli(study, participant)
    tries = len(participant.get("calibrations") or [])
    gate = study["calibration"]
    nxt = None
    if remaining:
        nxt = {
            "index": len(done),
            **study_stimulus(study, remaining[0]),
            "session_id": participant["sessions"].get(remaining[0]),
        }
    return {
        "participant_id": participant["id"],
        "study_id": study["id"],
        "study_status": study["status"],
        "answers": participant["answers"],
        "order": participant["order"],
        "completed": participant["completed"],
        "total": len(participant["completed"]) + len(remaining),
        "next": nxt,
        "finished": not remaining,
        "calibration": {
            "passed": calibration_passed(participant),
            "tries": tries,
            "tries_left": max(gate["max_tries"] - tries, 0),
            "max_error_pct": gate["max_error_pct"],
            "required": gate["required"],
            "last": (participant.get("calibrations") or [None])[-1],
        },
    }


def update_answers(
    store: Store,
    study: Mapping[str, Any],
    participant: dict[str, Any],
    answers: Mapping[str, Any],
    settings: StudySettings,
) -> dict[str, Any]:
    """Replace the participant's answers (checked as :func:`check_answers`); returns the record."""
    participant["answers"] = check_answers(study, answers, settings)
    store.save_participant(study["id"], participant)
    return participant


def session_plan(
    study: Mapping[str, Any], participant: Mapping[str, Any], stimulus_id: str | None
) -> dict[str, Any] | None:
    """Check that the participant may open a session now: a calibration session (``stimulus_id`` None)
    while tries are left, or the session of their next stimulus (after a passed calibration when the
    gate is required). Returns the study's stimulus entry (None for calibration).

    :class:`StudyAccessError`: 410 closed study, 403 not in the study or no tries left, 409 out of order
    or the calibration not passed yet."""
    if study["status"] != "open":
        raise StudyAccessError("this study is closed", status=410, code="study_closed")
    gate = study["calibration"]
    if stimulus_id is None:
        if len(participant.get("calibrations") or []) >= gate["max_tries"] and not calibration_passed(
            participant
        ):
            raise StudyAccessError(
                f"no calibration attempt is left (the study allows {gate['max_tries']})",
                status=403,
                code="calibration_tries_exhausted",
            )
        return None
    entry = study_stimulus(study, stimulus_id)
    if stimulus_id not in participant["order"]:
        raise StudyAccessError(
            f"stimulus {stimulus_id!r} is not in your order", status=403, code="not_in_study"
        )
    if stimulus_id in participant["completed"]:
        raise StudyAccessError(
            f"stimulus {stimulus_id!r} is already completed", status=409, code="already_completed"
        )
    nxt = progress(study, participant)["next"]
    if nxt is None or nxt["stimulus_id"] != stimulus_id:
        raise StudyAccessError(
            f"stimulus {stimulus_id!r} is not next: the next is {nxt and nxt['stimulus_id']!r}",
            status=409,
            code="out_of_order",
        )
    if gate["required"] and not calibration_passed(participant):
        raise StudyAccessError(
            "calibrate first: the study's quality gate has not been passed",
            status=409,
            code="calibration_required",
        )
    return entry


def record_session(
    store: Store, study: Mapping[str, Any], participant: dict[str, Any], info: SessionInfo
) -> dict[str, Any]:
    """Note a new session of the participant (its stimulus', or a calibration session) and link it to
    the study (:data:`STUDY_SESSIONS`, deleted with the session)."""
    store.put_document(
        STUDY_SESSIONS,
        info.id,
        {
            "session_id": info.id,
            "study_id": study["id"],
            "participant_id": participant["id"],
            "stimulus_id": info.stimulus_id,
        },
    )
    if info.stimulus_id is None:
        participant["calibration_sessions"].append(info.id)
    else:
        participant["sessions"][info.stimulus_id] = info.id
    store.save_participant(study["id"], participant)
    return participant


def owned_session(participant: Mapping[str, Any], session_id: str) -> str | None:
    """The stimulus id of one of the participant's sessions ('' for a calibration session);
    :class:`StudyAccessError` 403 when the session is not theirs."""
    for stim, sid in participant["sessions"].items():
        if sid == session_id:
            return stim
    if session_id in participant.get("calibration_sessions", []):
        return ""
    raise StudyAccessError("this session is not one of yours", status=403, code="not_your_session")


def measured_calibration(store: Store, session_id: str) -> tuple[float | None, str | None]:
    """The newest calibration the server fitted on ``session_id`` (its ``calibration_result`` record):
    ``(validation mean error px, saved profile id)``, ``(None, None)`` when there is none."""
    docs = [d for d in store.list_documents(RESULTS, session_id=session_id) if d.get("kind") == "calibration"]
    docs.sort(key=lambda d: float(d.get("created_at_ms") or 0.0), reverse=True)
    for d in docs:
        acc = (d.get("accuracy") or {}).get("mean_error_px")
        if isinstance(acc, int | float) and not isinstance(acc, bool) and acc > 0:
            pid = d.get("profile_id")
            return float(acc), pid if isinstance(pid, str) else None
    return None, None


def passed_profile(participant: Mapping[str, Any]) -> str | None:
    """The calibration profile of the participant's newest passing attempt (applied to their stimulus
    sessions as ``calibration_id``), else None."""
    for c in reversed(participant.get("calibrations") or []):
        if c.get("passed") and c.get("profile_id"):
            return str(c["profile_id"])
    return None


def record_calibration(
    store: Store,
    study: Mapping[str, Any],
    participant: dict[str, Any],
    session_id: str,
    accuracy_px: float | None,
    screen_w_px: float | None,
    profile_id: str | None = None,
) -> dict[str, Any]:
    """Judge a calibration the server measured on the participant's ``session_id`` (its validation mean
    error ``accuracy_px`` on a screen ``screen_w_px`` wide, its saved ``profile_id``) against the study's
    gate and record the attempt; returns it (``error_px``, ``error_pct``, ``passed``, ``profile_id``,
    ``tries_left``).

    :class:`StudyAccessError` 403 when no try is left, 409 (``no_calibration``) when the session has no
    calibration result or screen width yet."""
    owned_session(participant, session_id)
    gate = study["calibration"]
    tries = participant.get("calibrations") or []
    if len(tries) >= gate["max_tries"]:
        raise StudyAccessError(
            f"no calibration attempt is left (the study allows {gate['max_tries']})",
            status=403,
            code="calibration_tries_exhausted",
        )
    if accuracy_px is None or not screen_w_px:
        raise StudyAccessError(
            "this session has no calibration result yet (calibrate on its tracking WebSocket first) or no "
            "screen width",
            status=409,
            code="no_calibration",
        )
    pct = 100.0 * accuracy_px / screen_w_px
    attempt = {
        "session_id": session_id,
        "error_px": round(accuracy_px, 2),
        "error_pct": round(pct, 3),
        "passed": pct <= gate["max_error_pct"],
        "profile_id": profile_id,
        "at_ms": _now_ms(),
    }
    participant["calibrations"] = [*tries, attempt]
    store.save_participant(study["id"], participant)
    return {**attempt, "tries_left": max(gate["max_tries"] - len(participant["calibrations"]), 0)}


def mark_completed(
    store: Store, study: Mapping[str, Any], participant: dict[str, Any], session_id: str
) -> dict[str, Any]:
    """Mark the stimulus of ``session_id`` completed (idempotent; the participant is finished after the
    last). :class:`StudyAccessError` 403 for a session not theirs, 409 for a calibration session."""
    stim = owned_session(participant, session_id)
    if not stim:
        raise StudyAccessError("a calibration session is not a stimulus", status=409, code="not_a_stimulus")
    if stim not in participant["completed"]:
        participant["completed"].append(stim)
        if not remaining_stimuli(study, participant):
            participant["finished_at_ms"] = _now_ms()
        store.save_participant(study["id"], participant)
    return participant


def set_excluded(
    store: Store, study_id: str, participant_id: str, excluded: bool, reason: str | None
) -> dict[str, Any]:
    """The researcher's exclusion flag of a participant (left out of every aggregate); returns the record."""
    record = store.get_participant(study_id, participant_id)
    record.update(excluded=excluded, exclusion_reason=reason if excluded else None)
    store.save_participant(study_id, record)
    return record
