"""gazescope.storage"""
