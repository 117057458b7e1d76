"""gazescope.analytics.plots: one figure a module, drawn with matplotlib (Agg, no pyplot state) to PNG
bytes; :mod:`.canvas` holds what they share. Numbers come from the analytics modules; nothing here computes
them."""
