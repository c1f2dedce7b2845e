"""The database layer: the driver's one owner (graph.py), bounded reads, the schema, the managed
local server.

The driver is imported here, first, as if numpy, pandas and pyarrow were not installed. When
they are (pyarrow is, for Parquet exports, and brings numpy), the driver imports all of them at
its own import for its DataFrame and vector helpers, which idgraph never uses: it hands the
driver plain Python values only. That was a fifth of every `idgraph` command's start (about
0.2 s). pyarrow itself stays importable: activation/formats.py imports it where it writes
Parquet, after this.
"""

from __future__ import annotations

import importlib
import sys

_DRIVER_EXTRAS = ("numpy", "pandas", "pyarrow")


def _import_driver_without_extras() -> None:
    blocked = [name for name in _DRIVER_EXTRAS if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # `import name` fails at once
    try:
        importlib.import_module("neo4j")
    finally:
        for name in blocked:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


_import_driver_without_extras()
