"""Property test: the scoped query streaming runs (many rules, given profiles) selects exactly
what the reference evaluator selects, for the generated rules and populations the batch
compiler is held to (tests/test_segments_properties.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idgraph.segments import expand_segments, members, to_text
from idgraph.segments.scoped import ScopedRule, compile_scoped
from tests.conftest import wipe
from tests.segment_population import NOW
from tests.segment_strategies import populations, rules, segment_rules


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(some_rules=st.lists(rules, min_size=1, max_size=5), population=populations(),
       included=segment_rules(), include_test=st.booleans())
def test_the_scoped_query_selects_what_the_evaluator_selects(driver, cypher, some_rules,
                                                            population, included,
                                                            include_test):
    wipe(driver)
    population.load(cypher)
    facts = population.facts()
    scoped = [ScopedRule(f"s{k}", expand_segments(rule, included.get), include_test)
              for k, rule in enumerate(some_rules)]
    query = compile_scoped(scoped, now_ms=NOW)
    ids = [row["id"] for row in cypher("MATCH (p:Profile) RETURN p.id AS id")]
    rows = cypher(query.cypher, profiles=ids, **query.params)
    for k, rule in enumerate(some_rules):
        expected = members(rule, facts, now_ms=NOW, include_test=include_test,
                           segment_lookup=included.get)
        assert sorted(r["id"] for r in rows if k in r["hits"]) == sorted(expected), \
            to_text(rule)
