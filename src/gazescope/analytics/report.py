"""Session and aggregate reports: one import for what :mod:`gazescope.analytics.report_values` (the typed
values; ``to_dict()`` gives the stored and served JSON), :mod:`gazescope.analytics.session_report` (one
session, read as arrays) and :mod:`gazescope.analytics.aggregate_report` (several sessions of one stimulus)
define. The HTML page is :mod:`gazescope.analytics.report_html`, the figures :mod:`gazescope.analytics.plots`.
"""

from __future__ import annotations

from gazescope.analytics.aggregate_report import build_aggregate_report
from gazescope.analytics.report_values import (
    ACTIVITIES,
    ATTENTION_STATES,
    ActivitySummary,
    AggregateReport,
    AggregateSessionRow,
    EventMethods,
    GazeCoverage,
    GazeReport,
    ReportSession,
    SessionReport,
    SessionsLeftOut,
    TimelinePoint,
)
from gazescope.analytics.samples import MAX_FRAME_MS
from gazescope.analytics.session_report import build_session_report, refresh_report_aois, session_sizes

__all__ = [
    "ACTIVITIES",
    "ATTENTION_STATES",
    "MAX_FRAME_MS",
    "ActivitySummary",
    "AggregateReport",
    "AggregateSessionRow",
    "EventMethods",
    "GazeCoverage",
    "GazeReport",
    "ReportSession",
    "SessionReport",
    "SessionsLeftOut",
    "TimelinePoint",
    "build_aggregate_report",
    "build_session_report",
    "refresh_report_aois",
    "session_sizes",
]
