"""A small generated graph for the saved explorations: three people, four sources, a shared
device whose link the rules refuse, conflicting attributes, events and two audiences.

    Jane  crm:C1, email:jane@x.com, ecid:E1, device:d1   (crm, web, app; app event)
    Bob   crm:C2, email:bob@x.com                         (crm, app)
    Carol email:carol@x.com                               (web, pos; pos event)

The app's record a2 says device d1 and bob's e-mail: the oldest evidence, so re-clustering
meets it last, when d1 is already Jane's and Bob has his own CRM id: the link is refused
("unique namespace crm"). a2 stays keyed by both identities, so it belongs to both profiles.
"""

from __future__ import annotations

from tests.identity_helpers import ident, ingest


def _record(source: str, record_id: str, day: int, identities: list[str],
            attributes: dict) -> dict:
    return {"source": source, "recordId": record_id, "timestamp": f"2025-01-{day:02d}T12:00:00Z",
            "identities": [ident(i) for i in identities], "attributes": attributes}


def _event(source: str, event_id: str, day: int, identity: str, kind: str) -> dict:
    return {"source": source, "eventId": event_id, "timestamp": f"2025-01-{day:02d}T15:00:00Z",
            "type": kind, "identities": [ident(identity)], "properties": {"n": 1}}


# Text made to trip a naive reader of JSON: a key-like string, braces, an escaped quote and
# backslash, and a list of objects holding the same key.
TRICKY_NAME = 'Caroline "C\\J"'
RECORDS = [
    _record("app", "a2", 1, ["email:bob@x.com", "device:D1"], {"address": {"city": "Nice"}}),
    _record("crm", "r1", 2, ["crm:C1", "email:jane@x.com"],
            {"firstName": "Jane", "address": {"city": "Paris"}}),
    _record("web", "w1", 3, ["email:jane@x.com", "ecid:E1"], {"firstName": "Janet"}),
    _record("app", "a1", 4, ["ecid:E1", "device:D1"], {"address": {"city": "Paris"}}),
    _record("crm", "r2", 5, ["crm:C2", "email:bob@x.com"],
            {"firstName": "Bob", "address": {"city": "Lyon"}}),
    _record("web", "w2", 6, ["email:carol@x.com"],
            {"firstName": "Carol", "notes": 'moved from "city":"Rome" {old}',
             "orders": [{"city": "Oslo"}], "address": {"city": "Bergen"}}),
    _record("pos", "p1", 7, ["email:carol@x.com"],
            {"firstName": TRICKY_NAME, "address": {"city": "Bergen", "zip": "5003"},
             "orders": [{"city": "Tromso"}]}),
]
EVENTS = [_event("app", "e1", 4, "ecid:E1", "page_view"),
          _event("pos", "e2", 7, "email:carol@x.com", "purchase")]
JANE, BOB, CAROL = "email:jane@x.com", "email:bob@x.com", "email:carol@x.com"
SEGMENTS = """
MATCH (jane:Identity {key: $jane})-[:IN_PROFILE]->(pj:Profile)
MATCH (bob:Identity {key: $bob})-[:IN_PROFILE]->(pb:Profile)
MATCH (carol:Identity {key: $carol})-[:IN_PROFILE]->(pc:Profile)
CREATE (s1:Segment {id: 's1', name: 'Newsletter'}), (s2:Segment {id: 's2', name: 'Buyers'})
CREATE (pj)-[:IN_SEGMENT {status: 'realized'}]->(s1), (pj)-[:IN_SEGMENT {status: 'existing'}]->(s2)
CREATE (pb)-[:IN_SEGMENT {status: 'existing'}]->(s1), (pb)-[:IN_SEGMENT {status: 'exited'}]->(s2)
CREATE (pc)-[:IN_SEGMENT {status: 'realized'}]->(s2)
"""


def build_graph(gql, cypher) -> dict[str, str]:
    """Ingest the people and create the audiences; returns each person's profile id."""
    result = ingest(gql, RECORDS, EVENTS)
    assert result["accepted"] == len(RECORDS) + len(EVENTS), result
    assert [r["reason"] for r in result["refusedLinks"]] == ["unique namespace crm: crm:C1 "
                                                              "and crm:C2"], result
    cypher(SEGMENTS, jane=JANE, bob=BOB, carol=CAROL)
    rows = cypher("MATCH (i:Identity)-[:IN_PROFILE]->(p:Profile) WHERE i.key IN $keys "
                  "RETURN i.key AS key, p.id AS id", keys=[JANE, BOB, CAROL])
    ids = {row["key"]: row["id"] for row in rows}
    return {"jane": ids[JANE], "bob": ids[BOB], "carol": ids[CAROL]}
