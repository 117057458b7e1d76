"""The report as a self-contained HTML page (no external requests; PNGs inlined as ``data:`` URLs), and
the figures a session's page shows."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from typing import Any

from gazescope.analytics.activity import label_arrays
from gazescope.analytics.aoi import AOI, parse_aois
from gazescope.analytics.events import EventParams, FixationMethod, events_of_arrays
from gazescope.analytics.heatmap import session_heatmap
from gazescope.analytics.plots.attention import ACTIVITY_COLOURS, render_attention_png
from gazescope.analytics.plots.canvas import decode_stimulus
from gazescope.analytics.plots.gaze_trail import render_gaze_trail_png
from gazescope.analytics.plots.heatmap import render_heatmap_png
from gazescope.analytics.plots.scanpath import render_scanpath_png
from gazescope.analytics.plots.timeline import STATE_COLOURS, render_timeline_png
from gazescope.analytics.report import AggregateReport, SessionReport, session_sizes
from gazescope.analytics.samples import session_arrays, timed_samples
from gazescope.config import ActivitySettings
from gazescope.errors import ValidationError


def session_images(
    session: Mapping[str, Any],
    samples: Sequence[Mapping[str, Any]],
    *,
    stimulus_image: bytes | None = None,
    stimulus_size_px: tuple[float, float] | None = None,
    calibration_accuracy_px: float | None = None,
    fps_hint: float | None = None,
    method: FixationMethod = "idt",
    aois: Sequence[AOI | Mapping[str, Any]] | None = None,
    activity: ActivitySettings | None = None,
    looking_away_deg: float | None = None,
) -> dict[str, bytes]:
    """PNG figures of one session for :func:`render_report_html`: ``attention`` (states, activity and eye
    contact beside head and gaze angles, :mod:`gazescope.analytics.plots.attention`, with
    ``looking_away_deg`` marked and activity from ``activity``'s thresholds) and ``timeline`` always; ``heatmap``,
    ``scanpath`` and ``trail`` when the samples hold screen points and the screen size is known (from
    the session's ``screen_w_px``/``screen_h_px``). With ``stimulus_image`` the gaze figures are drawn on
    it (its size is the stimulus size unless ``stimulus_size_px`` says otherwise). ``aois`` (stimulus px)
    are outlined on the heatmap and the scanpath.

    Raises as :func:`gazescope.analytics.plots.timeline.render_timeline_png` and :func:`gazescope.analytics.plots.heatmap.render_heatmap_png`.
    """
    screen, geometry = session_sizes(session)
    images = {}
    if not samples:
        images["attention"] = render_attention_png(samples)
        images["timeline"] = render_timeline_png(samples, fps_hint=fps_hint)
        return images
    timed, _ = timed_samples(samples, fps_hint)  # the figures below take the timed dicts
    a = session_arrays(timed)  # read once: activity labels, validity and events come from these arrays
    labels, _ = label_arrays(a, geometry=geometry, settings=activity)
    images["attention"] = render_attention_png(timed, labels, looking_away_deg=looking_away_deg)
    images["timeline"] = render_timeline_png(samples, fps_hint=fps_hint)
    if screen is None or not a.gaze.valid.any():
        return images
    if stimulus_image is not None and stimulus_size_px is None:
        arr = decode_stimulus(stimulus_image)
        stimulus_size_px = (float(arr.shape[1]), float(arr.shape[0]))
    space = stimulus_size_px or screen
    ev = events_of_arrays(a.gaze, a.blinks, method=method, params=EventParams(geometry=geometry))
    grid = session_heatmap(
        timed,
        screen_size_px=screen,
        stimulus_size_px=stimulus_size_px,
        calibration_accuracy_px=calibration_accuracy_px,
        geometry=geometry,
        fixations=list(ev.fixations),
    )
    title = f"Heatmap: {len(ev.fixations)} fixations, duration-weighted; σ = {grid.sigma_px:.0f} px"
    parsed = parse_aois(aois) if aois else None
    images["heatmap"] = render_heatmap_png(grid, stimulus_image=stimulus_image, title=title, aois=parsed)
    scale_from = screen if stimulus_size_px else None
    images["scanpath"] = render_scanpath_png(
        list(ev.fixations),
        size_px=space,
        stimulus_image=stimulus_image,
        screen_size_px=scale_from,
        aois=parsed,
    )
    images["trail"] = render_gaze_trail_png(
        timed, size_px=space, stimulus_image=stimulus_image, screen_size_px=scale_from
    )
    return images


_CAPTIONS = {
    "attention": "Attention state, activity (reading, scanning, idle while focused) and eye contact over "
    "time, above head yaw and gaze angles; shaded: spans called looking away",
    "timeline": "Eye aspect ratio, gaze ratios, head pose and attention over the session",
    "heatmap": "Where the gaze rested (fixation duration, Gaussian kernel from calibration accuracy)",
    "scanpath": "Scanpath: fixations in order, circle area proportional to duration",
    "trail": "Raw gaze trail, early to late",
}


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f5f6f8;color:#1d232b}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 4px} h2{font-size:1.2em;margin:28px 0 10px;border-bottom:2px solid #dde1e6;
padding-bottom:4px} .muted{color:#66707c;font-size:.9em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.card{background:#fff;border-radius:8px;padding:10px 14px;box-shadow:0 1px 2px #0001}
.card .v{font-size:1.5em;font-weight:600} .card .k{color:#66707c;font-size:.85em}
table{border-collapse:collapse;background:#fff;width:100%;font-size:.9em;box-shadow:0 1px 2px #0001}
th,td{padding:5px 9px;border-bottom:1px solid #eceef1;text-align:right} th{background:#eef1f4}
td:first-child,th:first-child{text-align:left}
figure{margin:12px 0;background:#fff;padding:10px;border-radius:8px;box-shadow:0 1px 2px #0001}
figure img{max-width:100%;height:auto;display:block;margin:0 auto} figcaption{color:#66707c;font-size:.9em;
margin-top:6px} .bar{display:inline-block;height:10px;border-radius:3px;vertical-align:middle}
details{margin-top:10px}
.pass{color:#1e7d45;font-weight:600} .fail{color:#c0392b;font-weight:600} .na{color:#66707c}
.verdict{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;font-size:.9em}
.verdict.pass{background:#2e9d57;color:#fff} .verdict.fail{background:#d0443e;color:#fff}
.verdict.unknown{background:#9a9a9a}
"""


def _fmt(v: Any, unit: str = "", nd: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}{unit}"
    if isinstance(v, float):
        return f"{v:,.{nd}f}{unit}"
    return html.escape(str(v)) + unit


def _cards(items: list[tuple[str, str]]) -> str:
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="v">{v}</div><div class="k">{html.escape(k)}</div></div>'
            for k, v in items
        )
        + "</div>"
    )


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(name: str, data: bytes) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    cap = html.escape(_CAPTIONS.get(name, name.replace("_", " ").capitalize()))
    return f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{b64}"><figcaption>{cap}</figcaption></figure>'


def _aoi_session_table(aois: list[dict[str, Any]]) -> str:
    rows = [
        [
            html.escape(str(a["name"])),
            _fmt(a.get("ttff_ms"), " ms", 0),
            _fmt(a.get("first_fixation_ms"), " ms", 0),
            _fmt(a.get("dwell_ms"), " ms", 0),
            _fmt(a.get("dwell_pct"), " %"),
            _fmt(a.get("sample_dwell_ms"), " ms", 0),
            _fmt(a.get("fixation_count")),
            _fmt(a.get("revisits")),
        ]
        for a in aois
    ]
    return _table(
        ["AOI", "time to first fixation", "first fixation", "dwell (fixations)", "dwell share",
         "dwell (samples)", "fixations", "revisits"],
        rows,
    )  # fmt: skip


def _aoi_aggregate_table(aois: list[dict[str, Any]]) -> str:
    rows = [
        [
            html.escape(str(a["name"])),
            f"{_fmt(a.get('viewers_pct'), ' %')} ({a.get('n_viewers')}/{a.get('n_sessions')})",
            _fmt(a.get("mean_ttff_ms"), " ms", 0),
            _fmt(a.get("mean_dwell_ms"), " ms", 0),
            _fmt(a.get("mean_dwell_viewers_ms"), " ms", 0),
            _fmt(a.get("mean_first_fixation_ms"), " ms", 0),
            _fmt(a.get("mean_fixation_count"), "", 2),
            _fmt(a.get("mean_revisits"), "", 2),
        ]
        for a in aois
    ]
    return _table(
        ["AOI", "viewers", "mean TTFF (viewers)", "mean dwell (all with gaze)", "mean dwell (viewers)",
         "mean first fixation", "mean fixations", "mean revisits"],
        rows,
    )  # fmt: skip


def _session_body(r: Mapping[str, Any], images: Mapping[str, bytes]) -> list[str]:
    s = r.get("session", {})
    parts = [
        f"<h1>Session report {html.escape(str(s.get('label') or s.get('id') or ''))}</h1>",
        f'<div class="muted">session {html.escape(str(s.get("id", "–")))} · generated '
        f"{html.escape(str(r.get('generated_at', '')))}</div>",
        "<h2>Summary</h2>",
        _cards(
            [
                ("duration", _fmt(r.get("duration_s"), " s")),
                ("frames (with face)", f"{_fmt(r.get('frames'))} ({_fmt(r.get('frames_with_face'))})"),
                ("focused", _fmt(r.get("focus_pct"), " %")),
                ("mean attention (0–1)", _fmt(r.get("attention_mean"), "", 2)),
                ("eye contact", _fmt(r.get("eye_contact_pct"), " %")),
                ("blinks", f"{_fmt(r.get('blink_count'))} ({_fmt(r.get('blink_rate_per_min'))}/min)"),
                ("mean PERCLOS", _fmt(r.get("perclos_mean"), "", 3)),
                ("dropped frames", _fmt(r.get("dropped_frames"))),
                (
                    "ms/frame p50 / p95",
                    f"{_fmt(r.get('ms_per_frame_p50'))} / {_fmt(r.get('ms_per_frame_p95'))}",
                ),
            ]
        ),
    ]
    parts += _quality_section(r.get("data_quality"))
    states = r.get("attention_state_s") or {}
    total = sum(v for v in states.values() if v) or 1.0
    rows = [
        [
            html.escape(k.replace("_", " ")),
            _fmt(v, " s"),
            f'{_fmt(100 * v / total, " %")} <span class="bar" style="width:{int(2 * 100 * v / total)}px;'
            f'background:{STATE_COLOURS.get(k, "#ccc")}"></span>',
        ]
        for k, v in states.items()
    ]
    parts += ["<h2>Attention states</h2>", _table(["state", "time", "share"], rows)]
    parts += _activity_section(r)
    if "attention" in images:
        parts += ["<h2>Attention over time</h2>", _img("attention", images["attention"])]
    if "timeline" in images:
        parts += ["<h2>Timelines</h2>", _img("timeline", images["timeline"])]
    if r.get("has_gaze"):
        g = r.get("gaze", {})
        m = r.get("methods", {})
        parts += [
            "<h2>Gaze on screen</h2>",
            _cards(
                [
                    ("fixations", _fmt(r.get("fixation_count"))),
                    ("mean fixation", _fmt(r.get("mean_fixation_ms"), " ms", 0)),
                    ("time in fixations", _fmt(r.get("fixation_time_pct"), " %")),
                    ("saccades", _fmt(r.get("saccade_count"))),
                    ("mean saccade amplitude", _fmt(r.get("mean_saccade_amplitude_px"), " px", 0)),
                    ("samples with valid gaze", _fmt(g.get("valid_gaze_pct"), " %")),
                ]
            ),
            f'<p class="muted">Fixations by {html.escape(str(m.get("fixation_method", "")).upper())} '
            f"({html.escape(str(m.get('fixation_source', '')))}), threshold {_fmt(m.get('threshold_px'), '', 0)} "
            f"{html.escape(str(m.get('threshold_unit', '')))}"
            + (f" ({_fmt(m.get('threshold_deg'), '°', 2)})" if m.get("threshold_deg") else "")
            + f", minimum duration {_fmt(m.get('min_duration_ms'), ' ms', 0)}.</p>",
        ]
        for name in ("heatmap", "scanpath", "trail"):
            if name in images:
                parts.append(_img(name, images[name]))
        if r.get("aois"):
            parts += ["<h2>Areas of interest</h2>", _aoi_session_table(r["aois"])]
        fixes = r.get("fixations") or []
        if fixes:
            rows = [
                [str(i + 1), _fmt(f["start_ms"], "", 0), _fmt(f["duration_ms"], "", 0), _fmt(f["x_px"], "", 0),
                 _fmt(f["y_px"], "", 0), _fmt(f["n_samples"]), _fmt(f["dispersion_px"], "", 0)]
                for i, f in enumerate(fixes[:500])
            ]  # fmt: skip
            parts.append(
                f"<details><summary>Fixation list ({len(fixes)}{', first 500' if len(fixes) > 500 else ''})"
                "</summary>"
                + _table(
                    ["#", "start (ms)", "duration (ms)", "x (px)", "y (px)", "samples", "dispersion (px)"],
                    rows,
                )
                + "</details>"
            )
    else:
        parts.append(
            '<p class="muted">No calibrated screen gaze in this session: fixations, heatmaps and areas of '
            "interest need a calibration.</p>"
        )
    return parts


_STATUS_WORDS = {"pass": "pass", "fail": "FAIL", "not_applicable": "n/a", "unknown": "unknown"}


def _quality_value(c: Mapping[str, Any]) -> str:
    v, unit = c.get("value"), c.get("unit")
    if v is None:
        return "–"
    if unit == "share":
        return _fmt(100.0 * v, " %")
    if unit == "% of width":
        return _fmt(v, " % of width")
    return _fmt(v, " " + str(unit))


def _quality_threshold(c: Mapping[str, Any]) -> str:
    thr, unit = c.get("threshold"), c.get("unit")
    cmp = "≥" if c.get("comparison") == ">=" else "≤"
    if unit == "share" and isinstance(thr, int | float):
        return f"{cmp} {_fmt(100.0 * thr, ' %', 0)}"
    return f"{cmp} {_fmt(thr, ' ' + str(unit), 0 if unit != '% of width' else 1)}"


def _quality_section(dq: Mapping[str, Any] | None) -> list[str]:
    if not dq:
        return [
            "<h2>Data quality</h2>",
            '<p class="muted">This stored report was made before reports carried a data-quality card.</p>',
        ]
    status = str(dq.get("status", "unknown"))
    rows = [
        [
            html.escape(str(c.get("label", c.get("name")))),
            _quality_value(c),
            html.escape(_quality_threshold(c)),
            f'<span class="{"pass" if c.get("status") == "pass" else "fail" if c.get("status") == "fail" else "na"}">'
            f"{html.escape(_STATUS_WORDS.get(str(c.get('status')), str(c.get('status'))))}</span>",
            html.escape(str(c.get("detail", ""))),
            f"<code>{html.escape(str(c.get('setting', '')))}</code>",
        ]
        for c in dq.get("checks", [])
    ]
    failed = [str(f).replace("_", " ") for f in dq.get("failed", [])]
    head = (
        f'<span class="verdict {html.escape(status)}">{html.escape(_STATUS_WORDS.get(status, status))}</span>'
    )
    if failed:
        head += f' <span class="muted">failed: {html.escape(", ".join(failed))}</span>'
    return [
        '<h2 id="data-quality">Data quality</h2>',
        f"<p>{head}</p>",
        _table(["check", "value", "threshold", "verdict", "measured", "setting"], rows),
    ]


def _activity_section(r: Mapping[str, Any]) -> list[str]:
    seconds = r.get("activity_s") or {}
    if not seconds:
        return []
    total = sum(v for v in seconds.values() if v) or 1.0
    rows = [
        [
            html.escape(k.replace("_", " ")),
            _fmt(v, " s"),
            f'{_fmt(100 * v / total, " %")} <span class="bar" style="width:{int(2 * 100 * v / total)}px;'
            f'background:{ACTIVITY_COLOURS.get(k, "#ccc")}"></span>',
        ]
        for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])
        if v
    ]
    a = r.get("activity") or {}
    src = {"screen": "calibrated screen gaze", "gaze_yaw": "the horizontal gaze angle (no calibration)"}
    note = (
        f'<p class="muted">Read from {html.escape(src.get(str(a.get("input")), str(a.get("input"))))}: '
        f"{html.escape(str(a.get('method', '')))}. Attention states other than focused are kept as they are; "
        "“focused” is left where no window could be classified.</p>"
    )
    return ["<h2>Activity</h2>", _table(["activity", "time", "share"], rows), note]


def _aggregate_body(r: Mapping[str, Any], images: Mapping[str, bytes]) -> list[str]:
    st = r.get("stimulus", {})
    parts = [
        f"<h1>Stimulus report {html.escape(str(st.get('name') or st.get('id') or ''))}</h1>",
        f'<div class="muted">{r.get("n_sessions", 0)} sessions · generated {html.escape(str(r.get("generated_at", "")))}</div>',
        "<h2>Summary</h2>",
        _cards(
            [
                ("sessions", _fmt(r.get("n_sessions"))),
                ("with screen gaze", _fmt(r.get("n_sessions_with_gaze"))),
                ("mean fixation", _fmt(r.get("mean_fixation_ms"), " ms", 0)),
                ("mean fixations / session", _fmt(r.get("mean_fixation_count"))),
                ("mean focused", _fmt(r.get("focus_pct_mean"), " %")),
                ("mean attention (0–1)", _fmt(r.get("attention_mean"), "", 2)),
            ]
        ),
    ]
    for name in ("heatmap", "scanpath", "trail", "timeline"):
        if name in images:
            parts.append(_img(name, images[name]))
    if r.get("aois"):
        parts += ["<h2>Areas of interest</h2>", _aoi_aggregate_table(r["aois"])]
        left_out = r.get("sessions_without_gaze") or {}
        if left_out.get("count"):
            parts.append(
                f'<p class="muted">{left_out["count"]} session(s) left out of the AOI figures: '
                f"{html.escape(str(left_out.get('reason', '')))}.</p>"
            )
    rows = [
        [html.escape(str(s.get("user_id") or "")), html.escape(str(s.get("label") or "")),
         html.escape(str(s.get("id") or "")), "yes" if s.get("has_gaze") else "no",
         _fmt(s.get("duration_s"), " s"), _fmt(s.get("focus_pct"), " %"),
         _fmt(s.get("attention_mean"), "", 2), _fmt(s.get("eye_contact_pct"), " %"),
         _fmt(s.get("blink_rate_per_min")), _fmt(s.get("fixation_count")), _fmt(s.get("mean_fixation_ms"), "", 0)]
        for s in r.get("sessions", [])
    ]  # fmt: skip
    parts += [
        "<h2>Sessions</h2>",
        _table(["user", "label", "session", "screen gaze", "duration", "focused", "attention", "eye contact",
                "blinks/min", "fixations", "mean fixation (ms)"], rows),
    ]  # fmt: skip
    return parts


def render_report_html(
    report: SessionReport | AggregateReport | Mapping[str, Any], images: Mapping[str, bytes] | None = None
) -> str:
    """A self-contained HTML page (no external requests; PNGs inlined as ``data:`` URLs) for a report from
    :func:`gazescope.analytics.report.build_session_report` or
    :func:`~gazescope.analytics.report.build_aggregate_report`, or its stored JSON (``to_dict()``).

    ``images``: name -> PNG bytes, e.g. from :func:`session_images`. Known names (``timeline``,
    ``heatmap``, ``scanpath``, ``trail``) go to their sections; any other name is appended under
    "More figures". Every text from the report is HTML-escaped. A report without gaze (no calibration)
    gets no fixation section. Raises :class:`gazescope.errors.ValidationError` for a dict that is not a
    report (no ``kind``).
    """
    images = dict(images or {})
    if isinstance(report, SessionReport | AggregateReport):
        report = report.to_dict()
    kind = report.get("kind")
    if kind == "session":
        parts = _session_body(report, images)
    elif kind == "aggregate":
        parts = _aggregate_body(report, images)
    else:
        raise ValidationError(
            "render_report_html needs a report from build_session_report/build_aggregate_report"
        )
    extra = [k for k in images if k not in _CAPTIONS]
    if extra:
        parts.append("<h2>More figures</h2>")
        parts += [_img(k, images[k]) for k in extra]
    title = "gazescope report"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head>'
        f"<body><main>{''.join(parts)}"
        '<p class="muted" style="margin-top:30px">Made by gazescope. Fixations: Salvucci &amp; Goldberg 2000; '
        "AOI measures: Holmqvist et al. 2011; heatmap: Wooding 2002; PERCLOS: Wierwille et al. 1994; activity: "
        "Campbell &amp; Maglio 2001, Bulling et al. 2011; data quality: Holmqvist, Nyström &amp; Mulvey 2012.</p>"
        "</main></body></html>"
    )
