"""Many rules compiled to ONE query over a given set of profiles (streaming evaluation).

    compile_scoped(rules, now_ms=…) -> CompiledQuery(cypher, params)

Where `compiler.compile_rule` scans every profile for one rule, this starts from the profile
ids in `$profiles` and answers, for each of them, every rule at once:

    CYPHER replan=skip
    UNWIND $profiles AS pid
    MATCH (p:Profile {id: pid})-[:VIEW]->(v:ProfileView)
    CALL (p, v) {
      UNWIND range(0, size($segments) - 1) AS k
      WITH p, v, k WHERE CASE k WHEN 0 THEN coalesce(<rule 0>, false) WHEN 1 … END
      RETURN collect(k) AS hits
    }
    RETURN p.id AS id, hits, COLLECT { … its memberships of these segments … } AS held

The rules sit in a WHERE, as in the batch query: Neo4j 5 refuses an event aggregate
(`head(COLLECT { … RETURN sum(x) … })`) inside a RETURN's list ("implicit grouping").

Each rule's condition is the very fragment the batch compiler builds (`_Compiler.condition`),
so a profile is a member here exactly when a batch evaluation at the same instant would select
it; only parameter names differ (`$s3_v0`: rule 3's first value), so the rules share one query
and its text stays the same from one write to the next (Neo4j plans it once). Included segments
must already be inlined (`composition.expand_segments`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from idgraph.segments import ast as a
from idgraph.segments import cypher_parts as parts
from idgraph.segments.compiler import CompiledQuery, _Compiler
from idgraph.segments.layout import STEP, Fragment, Text, junction, render

# `replan=skip`: planning this query costs about 0.2 s per rule on a busy 2-core machine (a
# CASE branch of subqueries each); Neo4j would plan it again every time the graph's statistics
# drift (an ingest into an empty graph: every few seconds). The plan starts from given ids, so
# an old plan stays good.
SCOPE = """CYPHER replan=skip
UNWIND $profiles AS pid
MATCH (p:Profile {id: pid})-[:VIEW]->(v:ProfileView)"""
# The profile's memberships of the segments asked about: [segment, status, version].
HELD = """COLLECT {
    MATCH (p)-[m:IN_SEGMENT]->(:Segment)
    WHERE m.segment IN $segments
    RETURN [m.segment, m.status, m.version]
  }"""


@dataclass(frozen=True)
class ScopedRule:
    """One segment's rule (included segments inlined) as streaming evaluates it."""

    segment: str
    rule: a.Rule
    include_test: bool = False


class _Prefixed(_Compiler):
    """The batch compiler, naming its values `$<prefix>v<n>` so rules can share a query."""

    def __init__(self, now_ms: int, prefix: str, params: dict[str, Any]) -> None:
        super().__init__(now_ms)
        self.prefix = prefix
        self.params = params

    def param(self, value: Any) -> str:
        name = f"{self.prefix}v{self._count}"
        self._count += 1
        self.params[name] = value
        return "$" + name


def compile_scoped(rules: Sequence[ScopedRule], *, now_ms: int) -> CompiledQuery:
    """One query answering every rule for each profile of `$profiles` (a parameter the caller
    adds), with rows `{id, hits, held}`: `hits` lists the indexes k of the rules the profile
    satisfies, `held` its memberships of these segments as [segment, status, version]."""
    params: dict[str, Any] = {"segments": [r.segment for r in rules]}
    branches = "".join(f"\n{STEP * 3}WHEN {k} THEN "
                       + render_hit(r, _Prefixed(now_ms, f"s{k}_", params))
                       for k, r in enumerate(rules))
    text = (f"{SCOPE}\nCALL (p, v) {{\n{STEP}UNWIND range(0, size($segments) - 1) AS k\n"
            f"{STEP}WITH p, v, k\n{STEP}WHERE CASE k{branches}\n{STEP * 2}END\n"
            f"{STEP}RETURN collect(k) AS hits\n}}\n"
            f"RETURN p.id AS id, hits,\n  {HELD} AS held")
    return CompiledQuery(text, params)


def render_hit(rule: ScopedRule, compiler: _Compiler) -> str:
    """`coalesce(<condition>, false)`: a missing value (null) is not a member."""
    conditions: list[Fragment] = [] if rule.include_test else [Text(parts.NOT_TEST)]
    conditions.append(compiler.condition(rule.rule.root))
    inner = STEP * 4
    return f"coalesce(\n{inner}{render(junction('AND', conditions), inner)},\n{STEP * 3}false)"
