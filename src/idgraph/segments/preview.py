"""Preview and explain of a rule, saved or not: nothing is written.

A preview runs the compiled rule once and reports how many profiles it selects, a sample of
them and the Cypher with its parameters; explain returns Neo4j's plan of that Cypher.
"""

from __future__ import annotations

from dataclasses import dataclass

from idgraph.segments.ast import Rule
from idgraph.segments.compiler import CompiledQuery, compile_rule
from idgraph.segments.composition import referenced_segments
from idgraph.segments.plans import plan_text
from idgraph.segments.service import SegmentService

# The compiled rule's ids, counted and sampled in the same run of it (its parameters are
# v0, v1, ..., now, dateForm, datetimeForm: `previewSample` cannot clash).
COUNT_AND_SAMPLE = """
CALL () {
%s
}
WITH collect(id) AS ids
RETURN size(ids) AS count, ids[0..$previewSample] AS sample
"""
MAX_SAMPLE = 100


@dataclass(frozen=True)
class SampleProfile:
    id: str
    primary_key: str | None


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[SampleProfile]
    query: CompiledQuery
    as_of: int


async def compiled(service: SegmentService, rule: Rule, as_of: int,
                   include_test: bool) -> CompiledQuery:
    """`rule` as Cypher for the instant `as_of`, included segments' rules inlined."""
    checked = await service.checked(rule)
    lookup = await service.rules_for(referenced_segments(checked))
    return compile_rule(checked, now_ms=as_of, include_test=include_test,
                        segment_lookup=lookup.get)


async def preview(service: SegmentService, rule: Rule, as_of: int, sample_size: int,
                  include_test: bool = False) -> Preview:
    """Count and sample the profiles `rule` selects at `as_of`, without saving anything."""
    sample_size = max(0, min(sample_size, MAX_SAMPLE))
    query = await compiled(service, rule, as_of, include_test)
    rows = await service.graph.read_plain(COUNT_AND_SAMPLE % query.cypher,
                                          previewSample=sample_size, **query.params)
    ids = rows[0]["sample"] if rows else []
    keys = await service.repository.primary_keys(ids) if ids else {}
    return Preview(count=rows[0]["count"] if rows else 0,
                   sample=[SampleProfile(i, keys.get(i)) for i in ids],
                   query=query, as_of=as_of)


async def explain(service: SegmentService, query: CompiledQuery, profile: bool) -> str:
    """Neo4j's plan of `query` as text: EXPLAIN, or PROFILE (runs it, read-only)."""
    plan = await service.graph.plan(query.cypher, profile=profile, **query.params)
    return plan_text(plan)
