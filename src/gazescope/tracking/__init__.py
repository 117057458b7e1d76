"""gazescope.tracking"""
