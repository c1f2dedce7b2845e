"""Streaming's two statements stay cheap as the graph and the writers grow.

The query keeps its cost per profile as the graph grows, whatever it was planned on.

Streaming plans its query once (`CYPHER replan=skip`), typically on the first write into a
fresh, empty graph. A plan that starts a rule's identities, events or memberships from an index
(every identity of a namespace, every event of a type, every member of a segment) reads more
with every profile added: seen in the streaming benchmark as 18,000,000 database hits for 500
profiles instead of 30,000. The query is planned here on an empty graph, then run for ONE
profile on a graph of 30 people and again of 300: its database hits must not grow.
"""

from __future__ import annotations

import threading
from typing import Any

import neo4j

from idgraph.segments.parser import parse
from idgraph.segments.repository import STREAM_WRITE
from idgraph.segments.scoped import ScopedRule, compile_scoped
from tests.conftest import wipe

NOW = 1_700_000_000_000
# Every kind of rule that reads beyond the view: identities, events (counted, summed, first,
# exists), a computed attribute, the view; ten of them, as the benchmark had.
RULES = [
    'tier = "gold"',
    "has email",
    'identity(namespace = "ecid").count() >= 2',
    'events(type = "purchase", within 30 days).count() >= 2',
    'events(type = "purchase").sum(value) > 100',
    'events(type = "login").last() > now - 90 days',
    'events(type = "purchase" and value > 10).exists()',
    "computed.purchases >= 1",
    'not has email or name endsWith "9"',
    'tier = "gold" and has email',
]
PEOPLE = """
UNWIND range($first, $last) AS n
CREATE (p:Profile {id: 'p' + n})-[:VIEW]->(:ProfileView {_isTest: false, tier: 'gold',
                                                          name: 'P' + n})
WITH p, n
UNWIND ['email', 'ecid', 'crm'] AS ns
CREATE (i:Identity {key: ns + ':' + n, namespace: ns, value: toString(n)})-[:IN_PROFILE]->(p)
CREATE (:Event {key: ns + '|' + n, type: 'purchase', ts: $now - 86400000,
                `p.value`: 60})-[:ABOUT]->(i)
WITH DISTINCT p
MATCH (s:Segment)
CREATE (p)-[:IN_SEGMENT {segment: s.id, profile: p.id, status: 'realized', version: 1}]->(s)
"""


def hits(plan: Any) -> int:
    return int(plan.get("dbHits", 0)) + sum(hits(child) for child in plan.get("children", []))


def profiled(driver: neo4j.Driver, cypher: str, params: dict[str, Any]) -> int:
    with driver.session() as session:
        summary = session.run(cypher.replace("CYPHER replan=skip", "CYPHER replan=skip PROFILE"),
                              params).consume()
    assert summary.profile is not None
    return hits(summary.profile)


def test_the_streaming_query_reads_as_much_per_profile_at_300_people_as_at_30(driver):
    wipe(driver)
    query = compile_scoped([ScopedRule(f"plan-s{k}", parse(rule))
                            for k, rule in enumerate(RULES)], now_ms=NOW, stamp=True)
    params = {**query.params, "profiles": ["p1"]}
    with driver.session() as session:  # planned now, on an empty graph, and kept
        session.run(query.cypher.replace("CYPHER replan=skip", "CYPHER replan=force PROFILE"),
                    {**params, "profiles": ["nobody"]}).consume()
        session.run("UNWIND range(0, 9) AS k CREATE (:Segment {id: 'plan-s' + k, version: 1})"
                    ).consume()
        session.run(PEOPLE, first=1, last=30, now=NOW).consume()
    small = profiled(driver, query.cypher, params)
    with driver.session() as session:
        session.run(PEOPLE, first=31, last=300, now=NOW).consume()
    large = profiled(driver, query.cypher, params)
    assert small > 0
    assert large <= small * 1.2, (small, large)


def test_writes_of_one_segments_memberships_do_not_wait_for_each_other(driver, cypher):
    """Two writes' new memberships of one segment: the second goes through while the first is
    still open (a MERGE of the relationship locked the segment's node until the first
    committed, so concurrent ingest batches queued), and each membership exists once."""
    wipe(driver)
    cypher("CREATE (:Segment {id: 's', version: 1}) WITH 1 AS x "
           "UNWIND ['a', 'b'] AS id CREATE (:Profile {id: id})")
    nodes = {row["id"]: row["node"] for row in
             cypher("MATCH (p:Profile) RETURN p.id AS id, elementId(p) AS node")}

    def segments(profile: str) -> list[dict[str, Any]]:
        return [{"segment": "s", "version": 1, "rows": [
            {"profile": profile, "node": nodes[profile], "status": "realized", "cause": "t"}]}]

    done: list[str] = []

    def second() -> None:
        with driver.session() as session:
            session.run(STREAM_WRITE, now=NOW, segments=segments("b")).consume()
        done.append("b")

    with driver.session() as session, session.begin_transaction() as first:
        first.run(STREAM_WRITE, now=NOW, segments=segments("a")).consume()
        other = threading.Thread(target=second)
        other.start()
        other.join(timeout=60)  # blocked: it would wait for the first to commit
        assert done == ["b"]
        first.commit()
    with driver.session() as session:  # again: the membership is updated, not doubled
        session.run(STREAM_WRITE, now=NOW + 1, segments=segments("a")).consume()
    assert cypher("MATCH (p)-[m:IN_SEGMENT]->(:Segment {id: 's'}) "
                  "RETURN p.id AS id, m.changedAt AS at ORDER BY id") == [
        {"id": "a", "at": NOW + 1}, {"id": "b", "at": NOW}]
