"""The fixed Cypher the compiler assembles queries from (named here, one place to read).

Placeholders in braces are filled with parameter names (`$v3`) or property expressions
(`v.`age``) only, never with input text.
"""

from __future__ import annotations

from idgraph.segments.layout import Fragment, where

SCAN = "MATCH (p:Profile)-[:VIEW]->(v:ProfileView)"
NOT_TEST = "NOT v._isTest"
ORDER_IDS = "\nORDER BY id"
RETURN_IDS = "RETURN p.id AS id" + ORDER_IDS

# Seeded starts (segments/seeds.py): the candidates first, then their views. The events by the
# (type, ts) index, each profile once with the number of its matching events (an event about
# two of its identities counted once, as in EVENTS below); or a stored segment's members.
EVENT_SEED = "MATCH (e:Event)"
EVENT_TO_SEED = """MATCH (e)-[:ABOUT]->(:Identity)-[:IN_PROFILE]->(p:Profile)
WITH p, count(DISTINCT e) AS seedEvents"""
SEED_COUNT = "seedEvents"
SEGMENT_SEED = """MATCH (:Segment {{id: {segment}}})<-[seed:IN_SEGMENT]-(p:Profile)
WHERE seed.status IN ['realized', 'existing']
WITH p"""
VIEW_OF_SEED = "MATCH (p)-[:VIEW]->(v:ProfileView)"

# The profile's events (an event about two of its identities is matched twice: DISTINCT e) and
# identities (each once).
EVENTS = "MATCH (p)<-[:IN_PROFILE]-(:Identity)<-[:ABOUT]-(e:Event)"
IDENTITIES = "MATCH (p)<-[:IN_PROFILE]-(i:Identity)"
HAS_IDENTITY = "EXISTS {{ (p)<-[:IN_PROFILE]-(:Identity {{namespace: {namespace}}}) }}"

# Stored membership of another segment, when its rule is not inlined: an IN_SEGMENT
# relationship whose status says member.
MEMBER_STATUSES = ("realized", "existing")
IN_SEGMENT = """EXISTS {{
  MATCH (p)-[m:IN_SEGMENT]->(:Segment {{id: {segment}}})
  WHERE m.status IN ['realized', 'existing']
}}"""

# A value as a time (epoch ms) when it is text in the date or datetime form, else null: the
# forms admit only what datetime() parses (segments/times.py).
TIME_OF = """CASE
    WHEN {x} =~ {date} THEN datetime({x} + 'T00:00:00Z').epochMillis
    WHEN {x} =~ {datetime} THEN datetime({x}).epochMillis
  END"""

# A computed attribute as profile/computed.py `aggregate` reads it: the cluster's per-identity
# states, entries inside the definition's window as of $now, each event once. Only numeric
# functions: MOST_RECENT values are JSON text (no row, so null), as is a name not defined.
COMPUTED = """head(COLLECT {{
  MATCH (d:ComputedAttribute {{name: {name}}})
  WHERE d.function IN ['COUNT', 'SUM', 'MIN', 'MAX']
  CALL (p, d) {{
    MATCH (p)<-[:IN_PROFILE]-(:Identity)-[:HAS_COMPUTED]->(c:ComputedValue {{def: d.name}})
    UNWIND range(0, size(c.ts) - 1) AS j
    WITH DISTINCT c.events[j] AS event, c.ts[j] AS ts, c.vals[j] AS val
    WHERE ts >= {now} - d.lookbackMs
    RETURN count(val) AS n, sum(val) AS total, min(val) AS low, max(val) AS high
  }}
  RETURN CASE d.function WHEN 'COUNT' THEN n WHEN 'SUM' THEN total
                         WHEN 'MIN' THEN low WHEN 'MAX' THEN high END AS value
}})"""
NUMERIC = "{x} IS :: INTEGER NOT NULL | FLOAT NOT NULL"


def _body(match: str, condition: Fragment | None, *tail: str) -> str:
    lines = [match] + ([where(condition, "    ")] if condition is not None else []) + list(tail)
    return "".join(f"\n  {line}" for line in lines)


def exists_block(match: str, condition: Fragment | None) -> str:
    return f"EXISTS {{{_body(match, condition)}\n}}"


def count_block(match: str, condition: Fragment | None, *tail: str) -> str:
    return f"COUNT {{{_body(match, condition, *tail)}\n}}"


def aggregate_block(condition: Fragment | None, x: str | None, value: str) -> str:
    """One aggregate over the profile's matching events (`x`: the property, kept numeric)."""
    tail = ["WITH DISTINCT e"]
    if x is not None:
        tail.append("WHERE " + NUMERIC.format(x=x))
    tail.append(f"RETURN {value} AS value")
    return f"head(COLLECT {{{_body(EVENTS, condition, *tail)}\n}})"
