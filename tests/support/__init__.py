"""Helpers shared by the test suites (importable as ``support``: pytest's ``pythonpath`` holds ``tests``).

Fixtures stay in the conftest files; what several of them and some tests call directly lives here, once.
"""
