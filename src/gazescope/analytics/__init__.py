"""gazescope.analytics: the science after tracking, as a pure library (no web or API code).

* :mod:`~gazescope.analytics.samples`: stored sample dicts (and client gaze points) as arrays: positions,
  timestamps, validity, segments; per-sample durations; one session's arrays for reports
  (``session_arrays``).
* :mod:`~gazescope.analytics.events`: one detector a module, registered by name: fixations (``idt``
  default, ``ivt``; Salvucci & Goldberg 2000), saccades, blinks; px/degree geometry.
* :mod:`~gazescope.analytics.aoi`: areas of interest (rect/polygon, stimulus px) and their metrics (TTFF,
  dwell, fixation count, revisits) per session and across sessions (% viewers, means).
* :mod:`~gazescope.analytics.heatmap`: accuracy-scaled Gaussian density grids (one or many viewers;
  Wooding 2002).
* :mod:`~gazescope.analytics.plots`: one figure a module (heatmap, scanpath, gaze trail, timeline) as PNG.
* :mod:`~gazescope.analytics.report`: session and aggregate reports (one import for
  :mod:`~gazescope.analytics.report_values`, the typed values whose ``to_dict()`` is the stored JSON,
  :mod:`~gazescope.analytics.session_report`, one session read as arrays, and
  :mod:`~gazescope.analytics.aggregate_report`, the sessions of one stimulus);
  :mod:`~gazescope.analytics.report_html`: the self-contained HTML page.
* :mod:`~gazescope.analytics.export`: the samples CSV (the only writer of it), events CSV and a
  pymovements-readable gaze CSV.
* :mod:`~gazescope.analytics.video`, :mod:`~gazescope.analytics.video_overlay`: gaze on video stimuli.

Submodules are imported on demand (matplotlib is loaded by the plots and AOI modules).
"""
