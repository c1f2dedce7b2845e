"""Where a compiled rule starts (segments/seeds.py): the choice is pure and is held to the
reference evaluator; the plans start from the event index or a segment's memberships."""

from __future__ import annotations

import itertools

import pytest

from idgraph.segments import ProfileFacts, evaluate, parse
from idgraph.segments import ast as a
from idgraph.segments.compiler import compile_rule
from idgraph.segments.plans import plan_text
from idgraph.segments.seeds import EventSeed, SegmentSeed, choose_seed, needs_an_event

NOW = 1_717_243_200_000
PURCHASES = a.EventQuery(filter=parse('events(type = "purchase").exists()').root.events.filter)


@pytest.mark.parametrize(("function", "op", "number"), list(itertools.product(
    [f for f in a.Aggregate if f not in a.TIME_AGGREGATES], sorted(a.ORDERING | a.EQUALITY),
    [-1, 0, 0.0, 0.5, 1, 2])))
def test_a_conjunct_needs_an_event_exactly_when_the_evaluator_rejects_a_profile_without(
        function, op, number):
    prop = "value" if function in a.NEEDS_PROPERTY else None
    node = a.Compare(subject=a.EventAggregate(events=PURCHASES, function=function,
                                              property=prop),
                     op=op, value=a.NumberValue(value=number))
    nobody = ProfileFacts(id="p", identities=(("email", "a@x.com"),))
    holds_without_events = evaluate(a.Rule(node), nobody, now_ms=NOW)
    assert needs_an_event(node, node.subject) is (not holds_without_events)


@pytest.mark.parametrize(("text", "seed"), [
    ('age > 5 and events(type = "buy", within 30 days).count() >= 2', "event"),
    ('events(within 7 days).exists() and age > 5', "event"),
    ('events(type = "buy").last() > now - 7 days', "event"),
    ('age > 5 and inSegment("s1") and events(type = "buy").exists()', "segment"),
    ('events(type = "buy", within 30 days).count() < 2', None),  # holds without events
    ('events(value > 5).exists()', None),  # every event a candidate: no index narrows it
    ('age > 5 or events(type = "buy").exists()', None),  # not a top-level conjunct
    ('not events(type = "buy").exists()', None),
    ('age > 5', None),
])
def test_the_seed_of_a_rule(text, seed):
    found = choose_seed(parse(text).root)
    kind = {EventSeed: "event", SegmentSeed: "segment"}.get(type(found))
    assert kind == seed


async def plan_of(services, text: str) -> str:
    query = compile_rule(parse(text), now_ms=NOW)
    return plan_text(await services.graph.plan(query.cypher, **query.params))


async def test_an_event_window_rule_seeks_the_event_type_and_time_index(services):
    plan = await plan_of(services, 'events(type = "purchase", within 30 days).count() >= 2')
    # Which of the event indexes depends on the statistics (on an empty graph, type alone).
    assert "NodeIndexSeek" in plan and "INDEX e:Event(type" in plan
    assert "NodeByLabelScan" not in plan and "AllNodesScan" not in plan


async def test_a_composition_starts_from_the_stored_memberships(services):
    plan = await plan_of(services, 'inSegment("a") and inSegment("b")')
    assert "NodeUniqueIndexSeek" in plan and "Segment(id)" in plan
    assert "NodeByLabelScan" not in plan and "AllNodesScan" not in plan
