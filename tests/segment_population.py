"""Small populations for segment tests, written to Neo4j exactly as ingest and the profile
hooks would leave them (views by `materialise.properties`, event property columns by
`event_property_columns`, computed states by `computed.state_rows`), and the same population as
the evaluator's `ProfileFacts`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from idgraph.identity.items import event_property_columns
from idgraph.profile import computed as c
from idgraph.profile.materialise import properties
from idgraph.profile.merge import BUILTIN_DEFAULT
from idgraph.segments import EventFacts, ProfileFacts
from idgraph.segments.compiler import CompiledQuery
from idgraph.segments.times import instant_ms

NOW = instant_ms("2024-06-01T12:00:00Z")
DAY = 86_400_000
HOUR = 3_600_000
MEMBER_STATUSES = ("realized", "existing")

PROFILES = """
UNWIND $profiles AS row
CREATE (p:Profile {id: row.id, primaryKey: row.identities[0].key, size: size(row.identities)})
CREATE (p)-[:VIEW]->(v:ProfileView)
SET v = row.view
WITH p, row
CALL (p, row) {
  UNWIND row.identities AS ident
  CREATE (:Identity {key: ident.key, namespace: ident.namespace, value: ident.value})
         -[:IN_PROFILE]->(p)
}
CALL (p, row) {
  UNWIND row.segments AS membership
  MERGE (s:Segment {id: membership[0]})
  CREATE (p)-[:IN_SEGMENT {status: membership[1]}]->(s)
}
"""
EVENTS = """
UNWIND $events AS row
CREATE (e:Event {key: row.key, source: row.source, eventId: row.key, type: row.type,
                 ts: row.ts, properties: row.payload})
SET e += row.flat
WITH e, row
UNWIND row.about AS key
MATCH (i:Identity {key: key})
CREATE (e)-[:ABOUT]->(i)
"""
DEFINITIONS = """
UNWIND $defs AS d
CREATE (:ComputedAttribute {name: d.name, function: d.function, eventType: d.eventType,
                            property: d.property, lookbackMs: d.lookbackMs})
"""
STATES = """
UNWIND $rows AS row
MATCH (i:Identity {key: row.key})
CREATE (i)-[:HAS_COMPUTED]->(:ComputedValue {id: row.def + '|' + row.key, def: row.def,
        key: row.key, ts: row.ts, vals: row.vals, events: row.events})
"""
DEFINITIONS_USED = [
    c.Definition("purchases", "COUNT", "purchase", None, 30 * DAY),
    c.Definition("spend", "SUM", "purchase", "value", 30 * DAY),
    c.Definition("biggest", "MAX", "purchase", "value", 90 * DAY),
    c.Definition("smallest", "MIN", "purchase", "value", 7 * DAY),
    c.Definition("lastCoupon", "MOST_RECENT", "purchase", "coupon", 30 * DAY),
]


@dataclass
class Event:
    key: str
    type: str
    ts: int
    properties: dict[str, Any]
    about: list[str]  # identity keys
    source: str = "web"


@dataclass
class Person:
    id: str
    attributes: dict[str, Any]
    identities: list[tuple[str, str]]  # (namespace, value)
    is_test: bool = False
    segments: dict[str, str] = field(default_factory=dict)  # segment id -> status

    @property
    def keys(self) -> list[str]:
        return [f"{ns}:{value}" for ns, value in self.identities]


@dataclass
class Population:
    people: list[Person]
    events: list[Event] = field(default_factory=list)
    definitions: list[c.Definition] = field(default_factory=lambda: list(DEFINITIONS_USED))
    states_at: int = NOW - 5 * DAY  # when the computed states were last written

    def view(self, person: Person) -> dict[str, Any]:
        row = {"id": person.id, "primaryKey": person.keys[0], "size": len(person.keys),
               "isTest": person.is_test,
               "fragments": [{"source": "crm", "recordId": person.id, "ts": 1,
                              "attributes": json.dumps(person.attributes)}]}
        return properties(row, BUILTIN_DEFAULT, NOW)

    def state_rows(self) -> list[dict[str, Any]]:
        facts = [c.EventFact(e.key, e.type, e.ts, e.properties, tuple(e.about))
                 for e in self.events]
        return c.state_rows(self.definitions, facts, self.states_at)

    def load(self, cypher: Any) -> None:
        """Write the population (into an empty graph)."""
        cypher(PROFILES, profiles=[
            {"id": p.id, "view": self.view(p), "segments": sorted(p.segments.items()),
             "identities": [{"key": k, "namespace": ns, "value": v}
                            for k, (ns, v) in zip(p.keys, p.identities, strict=True)]}
            for p in self.people])
        payloads = [json.dumps(e.properties, sort_keys=True, separators=(",", ":"))
                    for e in self.events]
        cypher(EVENTS, events=[
            {"key": e.key, "source": e.source, "type": e.type, "ts": e.ts, "payload": text,
             "flat": event_property_columns(text), "about": e.about}
            for e, text in zip(self.events, payloads, strict=True)])
        cypher(DEFINITIONS, defs=[d.params() for d in self.definitions])
        cypher(STATES, rows=self.state_rows())

    def facts(self) -> list[ProfileFacts]:
        rows = self.state_rows()
        return [self._facts(p, rows) for p in self.people]

    def _facts(self, person: Person, rows: list[dict[str, Any]]) -> ProfileFacts:
        keys = set(person.keys)
        events = tuple(EventFacts(e.key, e.type, e.ts, e.properties, e.source)
                       for e in self.events if keys & set(e.about))
        computed = {d.name: c.aggregate(d, [r for r in rows
                                            if r["def"] == d.name and r["key"] in keys], NOW)
                    for d in self.definitions if d.function != "MOST_RECENT"}
        return ProfileFacts(
            id=person.id, attributes=json.loads(self.view(person)["_json"]),
            identities=tuple(person.identities), events=events, computed=computed,
            is_test=person.is_test,
            segments=frozenset(s for s, status in person.segments.items()
                               if status in MEMBER_STATUSES))


def run(cypher: Any, query: CompiledQuery) -> list[str]:
    return [row["id"] for row in cypher(query.cypher, **query.params)]
