"""gazescope.api"""
