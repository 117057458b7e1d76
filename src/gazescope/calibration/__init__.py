"""gazescope.calibration"""
