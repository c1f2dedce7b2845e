"""The layout's rules, checked on the source: who may import whom."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "idgraph"


def runtime_imports(path: Path) -> set[str]:
    """Modules a file imports when it runs (imports under `if TYPE_CHECKING:` left out)."""
    tree = ast.parse(path.read_text())
    type_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                 and getattr(node.test, "id", "") == "TYPE_CHECKING"
                 for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def modules_under(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def offenders(files: list[Path], forbidden: str) -> list[str]:
    return [f"{path.name} imports {name}" for path in files
            for name in sorted(runtime_imports(path))
            if name == forbidden or name.startswith(forbidden + ".")]


def test_only_the_db_layer_imports_the_neo4j_driver() -> None:
    outside_db = [p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] != "db"]
    assert offenders(outside_db, "neo4j") == []


def test_the_graphql_schema_does_not_depend_on_the_http_transport() -> None:
    assert offenders(modules_under("api/graphql"), "idgraph.api.http") == []


def test_domains_do_not_depend_on_the_api() -> None:
    domains = [p for name in ("identity", "profile", "auth", "ingest", "db", "activation")
               for p in modules_under(name)]
    assert offenders(domains, "idgraph.api") == []


def test_profiles_do_not_depend_on_segments() -> None:
    assert offenders(modules_under("profile") + modules_under("identity"),
                     "idgraph.segments") == []


def test_the_checker_sees_an_offending_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\nfrom neo4j import Driver\n"
                      "if TYPE_CHECKING:\n    import idgraph.api.http\n")
    assert offenders([module], "neo4j") == ["m.py imports neo4j"]
    assert offenders([module], "idgraph.api.http") == []


def test_activation_builds_on_segments_and_nothing_below_depends_on_it() -> None:
    below = [p for name in ("identity", "profile", "segments", "jobs", "pipeline", "db")
             for p in modules_under(name)]
    assert offenders(below, "idgraph.activation") == []
    assert offenders(modules_under("activation"), "idgraph.api") == []


def test_the_driver_is_imported_without_its_dataframe_extras() -> None:
    # In a process of its own: this one imported the driver (with numpy) long ago. pyarrow is
    # installed (Parquet exports) and must stay importable after the driver.
    import subprocess
    import sys

    script = ("import sys, idgraph.cli, idgraph.services\n"
              "print(sorted(n for n in ('numpy', 'pandas', 'pyarrow') if n in sys.modules))\n"
              "import pyarrow.parquet\n"
              "from idgraph.db.graph import Graph\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
