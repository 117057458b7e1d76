"""gazescope.analytics: the science after tracking, as a pure library (no web or API code).

* :mod:`~gazescope.analytics.events`: fixations (I-DT default, I-VT; Salvucci & Goldberg 2000), saccades,
  blink events, px/degree geometry, client gaze points -> sample dicts.
* :mod:`~gazescope.analytics.aoi`: areas of interest (rect/polygon, stimulus px) and their metrics (TTFF,
  dwell, fixation count, revisits) per session and across sessions (% viewers, means).
* :mod:`~gazescope.analytics.heatmap`: accuracy-scaled Gaussian heatmaps (one or many viewers), scanpath
  and gaze-trail PNGs.
* :mod:`~gazescope.analytics.report`: session/aggregate report dicts, timeline PNG, self-contained HTML.
* :mod:`~gazescope.analytics.export`: samples/events CSV and a pymovements-readable gaze CSV.

Submodules are imported on demand (matplotlib is loaded only by heatmap/report).
"""
