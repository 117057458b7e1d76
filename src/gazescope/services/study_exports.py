"""A study's exports: AOI metrics, fixations and samples as CSV (one row per participant x stimulus x AOI,
per fixation, per sample, each with the participant's answers), and a zip of everything with a README of
the columns (docs/studies.md). Every participant is exported, with an ``excluded`` column; only completed
stimulus sessions count. CSV text comes from :func:`gazescope.analytics.export.rows_to_csv`.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gazescope.analytics.events import FixationMethod
from gazescope.analytics.export import rows_to_csv
from gazescope.config import Settings
from gazescope.domain import SAMPLE_CSV_COLUMNS, SessionInfo, sample_to_row
from gazescope.errors import SessionNotFoundError
from gazescope.services.lifecycle import current_report_blocking
from gazescope.services.study_results import participant_quality
from gazescope.storage import Store

#: Columns of every export naming the row's participant and stimulus (``field_<name>`` columns follow).
KEY_COLUMNS: tuple[str, ...] = (
    "study_id",
    "participant_id",
    "excluded",
    "stimulus_index",
    "stimulus_id",
    "stimulus_name",
    "session_id",
)
AOI_COLUMNS: tuple[str, ...] = (
    "has_gaze", "aoi", "fixated", "ttff_ms", "first_fixation_ms", "dwell_ms", "dwell_pct", "sample_dwell_ms",
    "fixation_count", "visits", "revisits",
)  # fmt: skip
FIXATION_COLUMNS: tuple[str, ...] = (
    "fixation_index", "start_ms", "end_ms", "duration_ms", "x_px", "y_px", "n_samples", "dispersion_px",
)  # fmt: skip
PARTICIPANT_COLUMNS: tuple[str, ...] = (
    "study_id", "participant_id", "excluded", "exclusion_reason", "finished", "completed", "total",
    "calibration_error_px", "calibration_error_pct", "calibration_passed", "effective_fps", "face_share",
    "frames", "dropped_frames", "quality_status",
)  # fmt: skip

#: What each column means (the zip's README).
COLUMN_DOCS: dict[str, str] = {
    "study_id": "the study",
    "participant_id": "the participant (random id given when they joined)",
    "excluded": "true when the researcher excluded the participant (left out of the aggregates)",
    "exclusion_reason": "the researcher's reason for the exclusion",
    "stimulus_index": "position of the stimulus in this participant's order (0 = first shown)",
    "stimulus_id": "the stimulus (an id of /api/stimuli)",
    "stimulus_name": "the stimulus' name",
    "session_id": "the participant's session on this stimulus (/api/sessions/{id})",
    "field_<name>": "the participant's answer to the study's field <name>",
    "has_gaze": "whether the session has calibrated screen gaze (AOI cells are empty without)",
    "aoi": "the area of interest's name",
    "fixated": "whether a fixation fell in the AOI",
    "ttff_ms": "time to first fixation in the AOI from the session's start (ms)",
    "first_fixation_ms": "duration of the first fixation in the AOI (ms)",
    "dwell_ms": "total duration of the fixations in the AOI (ms)",
    "dwell_pct": "dwell_ms as % of the session's total fixation time",
    "sample_dwell_ms": "time of the gaze samples inside the AOI (ms)",
    "fixation_count": "fixations in the AOI",
    "visits": "separate entries into the AOI",
    "revisits": "visits - 1 (0 at least)",
    "fixation_index": "0-based index of the fixation in the session",
    "start_ms": "fixation start (sample clock, ms)",
    "end_ms": "fixation end (sample clock, ms)",
    "duration_ms": "fixation duration (ms)",
    "x_px": "fixation centre, screen px (origin top-left)",
    "y_px": "fixation centre, screen px (origin top-left)",
    "n_samples": "samples in the fixation",
    "dispersion_px": "(max x - min x) + (max y - min y) of its samples (px)",
    "finished": "whether the participant completed every stimulus",
    "completed": "stimuli completed",
    "total": "stimuli in the study for this participant",
    "calibration_error_px": "validation mean error of the participant's best calibration (px)",
    "calibration_error_pct": "the same in % of the screen width",
    "calibration_passed": "whether a calibration passed the study's gate",
    "effective_fps": "processed frames / recorded seconds over the participant's stimulus sessions",
    "face_share": "frames with a face / processed frames (0-1)",
    "frames": "processed frames (samples)",
    "dropped_frames": "frames dropped under load",
    "quality_status": "the data-quality card's verdict (pass / fail / unknown)",
}


@dataclass(frozen=True)
class Visit:
    """A participant's completed session on one stimulus, with the key columns of its export rows."""

    keys: dict[str, Any]
    info: SessionInfo


def _field_names(study: Mapping[str, Any]) -> list[str]:
    return [f"field_{f['name']}" for f in study.get("fields") or []]


def visits(store: Store, study_id: str) -> tuple[dict[str, Any], list[Visit]]:
    """The study and every participant's completed stimulus sessions, in participant then display order.
    ``NotFoundError`` for an unknown study."""
    study = store.get_study(study_id)
    names = {s["stimulus_id"]: s.get("name") for s in study["stimuli"]}
    out = []
    for p in store.list_participants(study_id):
        answers = {f"field_{k}": v for k, v in p["answers"].items()}
        for index, stim in enumerate(p["order"]):
            sid = p["sessions"].get(stim)
            if sid is None or stim not in p["completed"]:
                continue
            try:
                info = store.get_session(sid)
            except SessionNotFoundError:
                continue
            keys = {
                "study_id": study_id, "participant_id": p["id"], "excluded": bool(p.get("excluded")),
                "stimulus_index": index, "stimulus_id": stim, "stimulus_name": names.get(stim), "session_id": sid,
                **answers,
            }  # fmt: skip
            out.append(Visit(keys, info))
    return study, out


def aois_csv(store: Store, settings: Settings, study_id: str) -> str:
    """One row per participant x completed stimulus x AOI (:data:`KEY_COLUMNS`, the answers,
    :data:`AOI_COLUMNS`); a stimulus without AOIs or a session without gaze gives one row with empty AOI
    cells."""
    study, vs = visits(store, study_id)
    rows = []
    for v in vs:
        report = current_report_blocking(store, settings, v.info)
        metrics = report.get("aois") or []
        has_gaze = bool(report.get("has_gaze"))
        if not metrics or not has_gaze:
            rows.append({**v.keys, "has_gaze": has_gaze})
        rows += [
            {**v.keys, "has_gaze": has_gaze, "aoi": m["name"], **{k: m.get(k) for k in AOI_COLUMNS[2:]}}
            for m in metrics
            if has_gaze
        ]
    return rows_to_csv([*KEY_COLUMNS, *_field_names(study), *AOI_COLUMNS], rows)


def fixations_csv(store: Store, settings: Settings, study_id: str, method: FixationMethod = "idt") -> str:
    """One row per fixation of each completed stimulus session (:data:`FIXATION_COLUMNS`, screen px)."""
    del method  # the stored report's fixations (its method) are exported
    study, vs = visits(store, study_id)
    rows = []
    for v in vs:
        report = current_report_blocking(store, settings, v.info)
        for i, f in enumerate(report.get("fixations") or []):
            rows.append({**v.keys, "fixation_index": i, **{k: f.get(k) for k in FIXATION_COLUMNS[1:]}})
    return rows_to_csv([*KEY_COLUMNS, *_field_names(study), *FIXATION_COLUMNS], rows)


def samples_csv_chunks(store: Store, study_id: str, chunk: int) -> Iterator[str]:
    """The samples of every completed stimulus session (:data:`KEY_COLUMNS`, the answers, then
    :data:`gazescope.domain.SAMPLE_CSV_COLUMNS`), read ``chunk`` samples at a time: the header, then
    pieces of rows. Blocking (store reads)."""
    study, vs = visits(store, study_id)
    header = [*KEY_COLUMNS, *_field_names(study), *(c for c in SAMPLE_CSV_COLUMNS if c not in KEY_COLUMNS)]
    yield rows_to_csv(header, [])
    for v in vs:
        start = 0
        while True:
            page = store.get_samples(v.info.id, start=start, limit=chunk)
            if not page:
                break
            text = rows_to_csv(header, ({**sample_to_row(s), **v.keys} for s in page))
            yield text.split("\n", 1)[1]
            start += len(page)


def participants_csv(store: Store, settings: Settings, study_id: str) -> str:
    """One row per participant: the data-quality figures of the progress view and the answers."""
    study = store.get_study(study_id)
    rows = []
    for p in store.list_participants(study_id):
        q = participant_quality(store, settings, p)
        rows.append(
            {
                **q,
                "study_id": study_id,
                "quality_status": q["quality"]["status"],
                **{f"field_{k}": v for k, v in p["answers"].items()},
            }
        )
    return rows_to_csv([*PARTICIPANT_COLUMNS, *_field_names(study)], rows)


def readme(study: Mapping[str, Any]) -> str:
    """The zip's README.md: what each file holds and what each column means."""
    files = {
        "participants.csv": [*PARTICIPANT_COLUMNS, "field_<name>"],
        "aois.csv": [*KEY_COLUMNS, "field_<name>", *AOI_COLUMNS],
        "fixations.csv": [*KEY_COLUMNS, "field_<name>", *FIXATION_COLUMNS],
        "samples.csv": [*KEY_COLUMNS, "field_<name>", "<sample columns>"],
    }
    lines = [
        f"# Study export: {study['name']}",
        "",
        f"Study {study['id']}; every participant is listed (see `excluded`); only completed stimuli count.",
        "Empty cell: no value. Booleans: true/false. Times in ms, positions in screen px (origin top-left).",
        "`study.json` is the study as composed. The sample columns are those of `/api/sessions/{id}/samples.csv`",
        "(docs/protocol.md, the sample table).",
        "",
    ]
    for name, cols in files.items():
        lines += [f"## {name}", "", "| column | meaning |", "|---|---|"]
        lines += [f"| {c} | {COLUMN_DOCS.get(c, 'the sample fields, docs/protocol.md')} |" for c in cols]
        lines.append("")
    return "\n".join(lines)


def export_zip(store: Store, settings: Settings, study_id: str) -> bytes:
    """A zip of ``README.md``, ``study.json``, ``participants.csv``, ``aois.csv``, ``fixations.csv`` and
    ``samples.csv`` (deflated). Held in memory: the sample CSV of a large study is big (its size is about
    300 bytes a sample)."""
    study = store.get_study(study_id)
    public = {k: v for k, v in study.items() if k != "token_hash"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("README.md", readme(study))
        z.writestr("study.json", json.dumps(public, indent=2))
        z.writestr("participants.csv", participants_csv(store, settings, study_id))
        z.writestr("aois.csv", aois_csv(store, settings, study_id))
        z.writestr("fixations.csv", fixations_csv(store, settings, study_id))
        with z.open("samples.csv", "w") as fh:
            for piece in samples_csv_chunks(store, study_id, settings.export_chunk_samples):
                fh.write(piece.encode("utf-8"))
    return buf.getvalue()
