"""Schema as code: apply `cypher/schema/*.cypher` in order, once, recording each in the graph."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from idgraph.db.graph import Graph

RECORD_MIGRATION = """
MERGE (m:SchemaMigration {name: $name})
SET m.checksum = $checksum, m.appliedAt = datetime()
"""
APPLIED_MIGRATIONS = "MATCH (m:SchemaMigration) RETURN m.name AS name"
MIGRATION_CONSTRAINT = (
    "CREATE CONSTRAINT schema_migration_name IF NOT EXISTS "
    "FOR (m:SchemaMigration) REQUIRE m.name IS UNIQUE"
)


def cypher_dir() -> Path:
    """The `cypher/` folder: shipped inside the wheel, or at the repository root in a checkout."""
    packaged = Path(__file__).resolve().parents[1] / "cypher"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "cypher"


@dataclass(frozen=True)
class Migration:
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def statements(self) -> list[str]:
        """Statements separated by `;`, with `//` comment lines dropped."""
        body = "\n".join(
            line for line in self.text.splitlines() if not line.strip().startswith("//")
        )
        return [stmt.strip() for stmt in body.split(";") if stmt.strip()]


def load_migrations(directory: Path | None = None) -> list[Migration]:
    folder = directory or cypher_dir() / "schema"
    return [Migration(p.name, p.read_text()) for p in sorted(folder.glob("*.cypher"))]


async def apply_schema(graph: Graph) -> list[str]:
    """Apply migrations not yet recorded; returns the names applied (empty on a second run)."""
    await graph.write(MIGRATION_CONSTRAINT)
    applied = {row["name"] for row in await graph.read(APPLIED_MIGRATIONS)}
    done = []
    for migration in load_migrations():
        if migration.name in applied:
            continue
        # Schema commands cannot share a transaction with writes: one auto-commit each.
        for statement in migration.statements():
            await graph.write(statement)
        await graph.write(RECORD_MIGRATION, name=migration.name, checksum=migration.checksum)
        done.append(migration.name)
    return done


async def schema_is_current(graph: Graph) -> bool:
    applied = {row["name"] for row in await graph.read(APPLIED_MIGRATIONS)}
    return all(m.name in applied for m in load_migrations())
