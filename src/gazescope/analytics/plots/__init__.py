"""gazescope.analytics.plots: one figure a module (matplotlib/PIL drawing to PNG bytes, no store access)."""
