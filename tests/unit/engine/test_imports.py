"""The engine's files import one way: the low ones never name a class of a file above them, not even for
type checking (issue 21: backlog -> connection -> context -> handlers -> writer was a type-only cycle)."""

from __future__ import annotations

from tests.unit.test_layering import all_imports, import_cycles, in_package


def test_no_import_cycle_in_the_engine_type_only_imports_included() -> None:
    engine = [
        i
        for i in all_imports()
        if in_package(i.source, "gazescope.engine") and in_package(i.target, "gazescope.engine")
    ]
    assert import_cycles(engine, type_checking=True) == []


def test_the_engines_low_files_do_not_import_the_connection() -> None:
    low = {
        "gazescope.engine.context",
        "gazescope.engine.handlers",
        "gazescope.engine.hooks",
        "gazescope.engine.extensions",
        "gazescope.engine.sample",
        "gazescope.engine.writer",
        "gazescope.engine.backlog",
        "gazescope.engine.wire",
        "gazescope.engine.slot",
        "gazescope.engine.frame_processes",
    }
    offenders = [
        f"{i.source} (line {i.line})"
        for i in all_imports()
        if i.source in low and i.target == "gazescope.engine.connection"
    ]
    assert offenders == []
