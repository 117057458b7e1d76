"""gazescope.analytics.plots: one figure a module (matplotlib/PIL drawing to PNG bytes, no store access);
:mod:`.canvas` holds what the figures share. Numbers come from the analytics modules; nothing here computes
them."""
