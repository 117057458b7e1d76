"""gazescope.services: the use cases shared by the REST routes, the WebSockets and the command line.

Each function takes a :class:`~gazescope.storage.Store` (and plain values) and returns typed results or
bytes; none imports FastAPI, Starlette or :mod:`gazescope.api`. The API runs them in its thread pools
(``AppState.io`` for store reads, ``AppState.cpu`` for computing and drawing); the CLI calls them directly.

* :mod:`~gazescope.services.stimuli`: stimulus documents, images, AOIs (load, create, delete).
* :mod:`~gazescope.services.sessions`: a session with its samples, report and calibration accuracy;
  selecting the sessions of an aggregate; ``gazescope analyze`` folders as sessions.
* :mod:`~gazescope.services.events`: fixations, saccades and blinks of a session (JSON, CSV).
* :mod:`~gazescope.services.figures`: heatmap, scanpath and trail PNGs of one or many sessions.
* :mod:`~gazescope.services.reports`: session and aggregate reports (dict, HTML with figures).
* :mod:`~gazescope.services.gaze_points`: client-side gaze points (seed 003) checked and turned into samples.
* :mod:`~gazescope.services.videos`: video stimuli: viewers, moment heatmaps, reports, overlay files.
* :mod:`~gazescope.services.offline`: the live pipeline over a recorded video (``gazescope analyze``).
"""
