"""Settings of studies (:class:`StudySettings`): their bounds and the participant link's defaults."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StudySettings(BaseModel):
    """Studies (docs/studies.md): how big a study may be, and the defaults of its calibration gate."""

    study_max_stimuli: int = Field(
        50,
        ge=1,
        le=1000,
        description="Most stimuli in one study (a sitting longer than about 50 stimuli tires participants; "
        "RealEye and Labvanced studies are typically 5-30).",
    )
    study_max_fields: int = Field(
        20, ge=0, le=200, description="Most participant fields (questions) a study asks."
    )
    study_max_choices: int = Field(
        50, ge=2, le=1000, description="Most choices of one participant field of kind 'choice'."
    )
    study_max_name_chars: int = Field(
        200, ge=1, le=10_000, description="Longest study name, field name, label or choice (characters)."
    )
    study_max_text_chars: int = Field(
        20_000,
        ge=1,
        le=1_000_000,
        description="Longest consent text or instructions (characters; about ten pages of text).",
    )
    study_max_answer_chars: int = Field(
        2000, ge=1, le=100_000, description="Longest free-text answer of a participant (characters)."
    )
    study_max_participants: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Largest target number of participants, and most participants one study accepts "
        "(the researcher's figures read every participant's sessions).",
    )
    study_max_image_duration_s: float = Field(
        600.0, gt=0, le=86_400, description="Longest display duration of an image stimulus (s)."
    )
    study_default_image_duration_s: float = Field(
        5.0,
        gt=0,
        le=86_400,
        description="Display duration of an image stimulus when the study gives none (s; 5 s is "
        "RealEye's default exposure for static images).",
    )
    study_default_max_error_pct: float = Field(
        10.0,
        gt=0,
        le=100,
        description="Default quality gate: the largest calibration validation error, in % of the screen "
        "width, a participant may go on with (webcam eye tracking reaches 5-10 %, Papoutsaki et al. 2016, "
        "WebGazer; RealEye asks 10 % by default).",
    )
    study_default_max_calibration_tries: int = Field(
        3, ge=1, le=20, description="Default number of calibration attempts before a participant is stopped."
    )
    study_link_token_bytes: int = Field(
        24,
        ge=16,
        le=64,
        description="Random bytes of a participant link token (secrets.token_urlsafe; 16 bytes = 128 bits "
        "is the least OWASP advises for session identifiers).",
    )
    study_session_token_ttl_s: int = Field(
        4 * 3600,
        ge=60,
        le=86_400,
        description="Lifetime of the session token given to a participant for one stimulus session's "
        "tracking WebSocket (s); a participant who comes back later gets a new one.",
    )
