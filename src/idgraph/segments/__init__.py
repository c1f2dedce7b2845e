"""Segments: a rule language over merged profiles, compiled to Cypher (issue #15, the core).

Text -> typed AST -> (Cypher, params), with an in-memory evaluator of the same AST that tests
hold the compiled Cypher to. The language is documented in docs/segments.md.

Public API (import from here):

    parse(text: str) -> Rule                              # SegmentSyntaxError, SegmentTypeError
    to_text(rule: Rule) -> str                            # canonical; parse(to_text(r)) == r
    rule_from_json(data: Any) -> Rule                     # JSON AST: rule.model_dump(mode="json")
    check_rule(rule, schema: AttributeSchema | None = None, *,
               computed: Mapping[str, str] | None = None) -> None      # SegmentTypeError
    compile_rule(rule, *, now_ms: int, include_test: bool = False,
                 attribute_schema: AttributeSchema | None = None,
                 segment_lookup: SegmentLookup | None = None) -> CompiledQuery(cypher, params)
    await member_ids(graph: Graph, query: CompiledQuery) -> list[str]
    evaluate(rule, profile: ProfileFacts, *, now_ms: int,
             segment_lookup: SegmentLookup | None = None) -> bool
    members(rule, profiles: Iterable[ProfileFacts], *, now_ms: int, include_test: bool = False,
            segment_lookup: SegmentLookup | None = None) -> list[str]
    expand_segments(rule, lookup: SegmentLookup, *, origin: str | None = None) -> Rule
    referenced_segments(rule) -> list[str]

`SegmentLookup = Callable[[str], Rule | None]` (a segment id to its rule). Errors are
`SegmentError` subclasses of `idgraph.errors.InvalidInput`, each with a stable `code`:
SegmentSyntaxError (line, column, expected), SegmentTypeError (path), SegmentCycleError
(cycle), UnknownSegment (segment_id). Every evaluation takes `now_ms`, so results are
reproducible. The AST models are in `segments.ast` (`Rule` is a pydantic RootModel).
"""

from idgraph.segments.ast import Rule, rule_from_json
from idgraph.segments.compiler import CompiledQuery, compile_rule
from idgraph.segments.composition import SegmentLookup, expand_segments, referenced_segments
from idgraph.segments.errors import (
    SegmentCycleError,
    SegmentError,
    SegmentSyntaxError,
    SegmentTypeError,
    UnknownSegment,
)
from idgraph.segments.evaluator import EventFacts, ProfileFacts, evaluate, members
from idgraph.segments.parser import parse
from idgraph.segments.printer import to_text
from idgraph.segments.repository import member_ids
from idgraph.segments.typecheck import check_rule

__all__ = [
    "CompiledQuery", "EventFacts", "ProfileFacts", "Rule", "SegmentCycleError", "SegmentError",
    "SegmentLookup", "SegmentSyntaxError", "SegmentTypeError", "UnknownSegment", "check_rule",
    "compile_rule", "evaluate", "expand_segments", "member_ids", "members", "parse",
    "referenced_segments", "rule_from_json", "to_text",
]
