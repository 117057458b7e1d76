"""gazescope.evaluation"""
