"""Many rules compiled to ONE query over a given set of profiles (streaming evaluation).

    compile_scoped(rules, now_ms=…) -> CompiledQuery(cypher, params)

Where `compiler.compile_rule` scans every profile for one rule, this starts from the profile
ids in `$profiles` and answers, for each of them, every rule at once:

    CYPHER replan=skip
    UNWIND $profiles AS pid
    MATCH (p:Profile {id: pid})-[:VIEW]->(v:ProfileView)
    WITH p, v, [(p)<-[:IN_PROFILE]-(i) | i] AS ids,
         COLLECT { MATCH (p)<-[:IN_PROFILE]-()<-[:ABOUT]-(e) RETURN DISTINCT e } AS events
    CALL (p, v, ids, events) {
      UNWIND range(0, size($segments) - 1) AS k
      WITH p, v, ids, events, k WHERE CASE k WHEN 0 THEN coalesce(<rule 0>, false) … END
      RETURN collect(k) AS hits
    }
    RETURN p.id AS id, elementId(p) AS node, hits, [… its memberships …] AS held

Each profile's identities and events are read ONCE, by patterns that can only be expanded from
`p` (no label, no property to seek on), and every rule tests them as lists
(`any(i IN ids WHERE …)`, `size([e IN events WHERE …])`, `reduce(…)`). The batch compiler's
`EXISTS { … }` / `COUNT { … }` subqueries are each planned on their own, from statistics: with
`replan=skip`, a plan made while the graph was empty stays, and one such plan (seen with ten
rules) started each profile's subqueries from an index (every identity of a namespace, every
event of a type): 18,000,000 database hits for 500 profiles instead of 30,000, growing with the
graph. Lists leave the planner no such choice, and make the query cheap to plan.

The rules sit in a WHERE, as in the batch query. Attribute comparisons and the two-valued logic
are the batch compiler's own (`_Compiler.condition`), so a profile is a member here exactly when
a batch evaluation at the same instant would select it (property tests hold both to the
reference evaluator); only parameter names differ (`$s3_v0`: rule 3's first value), so the rules
share one query and its text stays the same from one write to the next (Neo4j plans it once).
Included segments must already be inlined (`composition.expand_segments`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from idgraph.identity.items import EVENT_PROPERTY_PREFIX
from idgraph.segments import ast as a
from idgraph.segments import cypher_parts as parts
from idgraph.segments.compiler import CompiledQuery, _Compiler, _property
from idgraph.segments.layout import STEP, Fragment, Text, junction, render

# `replan=skip`: Neo4j would plan the query again every time the graph's statistics drift (an
# ingest into an empty graph: every few seconds), and a plan that starts from the given ids and
# tests lists stays good whatever the statistics were.
SCOPE = """CYPHER replan=skip
UNWIND $profiles AS pid
MATCH (p:Profile {id: pid})-[:VIEW]->(v:ProfileView)%s
WITH p, v, [(p)<-[:IN_PROFILE]-(i) | i] AS ids,
     COLLECT { MATCH (p)<-[:IN_PROFILE]-()<-[:ABOUT]-(e) RETURN DISTINCT e } AS events"""
# Streaming stamps each profile it decides for (`compile_scoped(stamp=True)`): a batch
# evaluation decides again, in its write's transaction, a profile stamped since its read, so
# its older decision never overwrites this one (segments/evaluation.py, `Evaluator._decide_again`).
STAMP = "SET p._segmentsAt = $evaluatedAt"
# The profile's memberships of the segments asked about: [segment, status, version]. The
# pattern has no property to seek on, so the membership index is never where it starts.
HELD = """[m IN [(p)-[m:IN_SEGMENT]->() | m] WHERE m.segment IN $segments
    | [m.segment, m.status, m.version]]"""
# A computed attribute's states, reached from the profile only (parts.COMPUTED names labels and
# `def`, which an index serves: right for a scan of every profile, not per profile).
COMPUTED = parts.COMPUTED.replace(
    "MATCH (p)<-[:IN_PROFILE]-(:Identity)-[:HAS_COMPUTED]->(c:ComputedValue {{def: d.name}})",
    "MATCH (p)<-[:IN_PROFILE]-()-[:HAS_COMPUTED]->(c)\n    WHERE c.def = d.name")
assert COMPUTED != parts.COMPUTED, "cypher_parts.COMPUTED changed: update scoped.COMPUTED"


@dataclass(frozen=True)
class ScopedRule:
    """One segment's rule (included segments inlined) as streaming evaluates it."""

    segment: str
    rule: a.Rule
    include_test: bool = False


class _Prefixed(_Compiler):
    """The batch compiler, naming its values `$<prefix>v<n>` so rules can share a query, and
    testing the profile's identities and events as the lists `ids` and `events`."""

    def __init__(self, now_ms: int, prefix: str, params: dict[str, Any]) -> None:
        super().__init__(now_ms)
        self.prefix = prefix
        self.params = params

    def param(self, value: Any) -> str:
        name = f"{self.prefix}v{self._count}"
        self._count += 1
        self.params[name] = value
        return "$" + name

    def profile_condition(self, node: Any) -> str:
        if isinstance(node, a.HasIdentity):
            return f"any(i IN ids WHERE i.namespace = {self.param(node.namespace)})"
        if isinstance(node, a.IdentitiesExist):
            return _any("i", "ids", self.filter(node.filter))
        if isinstance(node, a.EventsExist):
            return _any("e", "events", self.event_where(node.events))
        return super().profile_condition(node)

    def subject(self, node: Any) -> str:
        if isinstance(node, a.IdentityCount):
            return f"size({_matching('i', 'ids', self.filter(node.filter))})"
        if isinstance(node, a.Computed):
            return COMPUTED.format(name=self.param(node.name), now=self.now())
        return super().subject(node)

    def aggregate(self, node: a.EventAggregate) -> str:
        """The batch compiler's aggregates, over the list of the profile's distinct events: an
        empty list counts 0 and sums 0, and has no min, max, average, first or last (null)."""
        matching = self.event_where(node.events)
        if node.function is a.Aggregate.COUNT:
            return f"size({_matching('e', 'events', matching)})"
        if node.property is None:  # first, last: the least or greatest time
            times = _matching("e", "events", matching, "e.ts")
            return _extreme(times, "<" if node.function is a.Aggregate.FIRST else ">")
        x = f"e.`{_property(EVENT_PROPERTY_PREFIX + node.property)}`"
        numeric: Fragment = Text(parts.NUMERIC.format(x=x))
        kept = numeric if matching is None else junction("AND", [matching, numeric])
        values = _matching("e", "events", kept, x)
        if node.function is a.Aggregate.SUM:
            return f"reduce(total = 0, x IN {values} | total + x)"
        if node.function is a.Aggregate.AVG:  # `xs`: the values, listed once
            return (f"head([xs IN [{values}] | CASE WHEN size(xs) > 0 THEN "
                    "reduce(total = 0, x IN xs | total + x) / toFloat(size(xs)) END])")
        return _extreme(values, "<" if node.function is a.Aggregate.MIN else ">")


def compile_scoped(rules: Sequence[ScopedRule], *, now_ms: int,
                   stamp: bool = False) -> CompiledQuery:
    """One query answering every rule for each profile of `$profiles` (a parameter the caller
    adds), with rows `{id, node, hits, held}`: `node` the profile's element id (the write finds
    it by that, read in the same transaction), `hits` the indexes k of the rules the profile
    satisfies, `held` its memberships of these segments as [segment, status, version]. With
    `stamp`, each profile is marked as decided for at `now_ms` (STAMP: streaming's query)."""
    params: dict[str, Any] = {"segments": [r.segment for r in rules]}
    if stamp:
        params["evaluatedAt"] = now_ms
    branches = "".join(f"\n{STEP * 3}WHEN {k} THEN "
                       + render_hit(r, _Prefixed(now_ms, f"s{k}_", params))
                       for k, r in enumerate(rules))
    scope = SCOPE % ("\n" + STAMP if stamp else "")
    text = (f"{scope}\nCALL (p, v, ids, events) {{\n"
            f"{STEP}UNWIND range(0, size($segments) - 1) AS k\n"
            f"{STEP}WITH p, v, ids, events, k\n{STEP}WHERE CASE k{branches}\n{STEP * 2}END\n"
            f"{STEP}RETURN collect(k) AS hits\n}}\n"
            f"RETURN p.id AS id, elementId(p) AS node, hits,\n  {HELD} AS held")
    return CompiledQuery(text, params)


def render_hit(rule: ScopedRule, compiler: _Compiler) -> str:
    """`coalesce(<condition>, false)`: a missing value (null) is not a member."""
    conditions: list[Fragment] = [] if rule.include_test else [Text(parts.NOT_TEST)]
    conditions.append(compiler.condition(rule.rule.root))
    inner = STEP * 4
    return f"coalesce(\n{inner}{render(junction('AND', conditions), inner)},\n{STEP * 3}false)"


def _matching(var: str, items: str, condition: Fragment | None, value: str | None = None
              ) -> str:
    """`[var IN items WHERE condition | value]`, each part only when given."""
    kept = "" if condition is None else f" WHERE {render(condition, STEP * 5)}"
    return f"[{var} IN {items}{kept}{'' if value is None else f' | {value}'}]"


def _any(var: str, items: str, condition: Fragment | None) -> str:
    """Is any element of `items` such that `condition` holds (any at all without one)?"""
    if condition is None:
        return f"size({items}) > 0"
    return f"any({var} IN {items} WHERE {render(condition, STEP * 5)})"


def _extreme(values: str, op: str) -> str:
    """The least (`<`) or greatest (`>`) of a list, null when it is empty."""
    return f"reduce(m = null, x IN {values} | CASE WHEN m IS NULL OR x {op} m THEN x ELSE m END)"
