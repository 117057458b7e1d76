"""gazescope.analytics"""
