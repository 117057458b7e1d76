"""Print the import findings of ``tests/unit/test_layering.py`` for ``src/gazescope``: import cycles
(runtime imports, then those through an ``if TYPE_CHECKING:`` import), FastAPI/Starlette below
``api/``, imports of ``gazescope.api.routes`` outside the app factory, and lower layers importing ``api``
or the CLI. Exits 1 when a rule is broken (TYPE_CHECKING-only cycles are listed, not counted).

    python benchmarks/import_graph.py                     # this checkout's src/gazescope
    python benchmarks/import_graph.py ../other/src/gazescope   # another tree
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

LAYERING = Path(__file__).resolve().parents[1] / "tests" / "unit" / "test_layering.py"


def main(argv: list[str]) -> int:
    spec = importlib.util.spec_from_file_location("test_layering", LAYERING)
    assert spec is not None and spec.loader is not None
    rules = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = rules  # dataclasses look their module up there
    spec.loader.exec_module(rules)
    src = Path(argv[0]).resolve() if argv else rules.SRC
    imports = rules.all_imports(src)
    cycles = rules.import_cycles(imports)
    with_types = rules.import_cycles(imports, type_checking=True)
    type_only = [c for c in with_types if "TYPE_CHECKING" in c]
    sections = [
        ("import cycles (runtime imports)", cycles),
        ("FastAPI/Starlette imported below api/", rules.web_framework_imports(imports)),
        (f"{rules.ROUTES} imported outside {rules.APP_FACTORY}", rules.route_imports(imports)),
        ("gazescope.api or the CLI imported from a layer below", rules.upward_imports(imports)),
    ]
    print(f"{len(rules.module_names(src))} modules, {len(imports)} imports under {src}")
    listed = [*sections, ("cycles through TYPE_CHECKING imports (listed, not a failure)", type_only)]
    for title, found in listed:
        print(f"\n{title}: {len(found) or 'none'}")
        for line in found:
            print(f"  {line}")
    return 1 if any(found for _, found in sections) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
