"""Every Cypher statement of suppression (privacy/suppression.py). Values are parameters.

Model: (:Secret {name: 'suppression_salt', value, createdAt})  one per deployment
       (:Suppression {hash, createdAt})  HMAC-SHA256(salt, identity key), hex; never the value
"""

from __future__ import annotations

READ_SECRET = "MATCH (s:Secret {name: $name}) RETURN s.value AS value"
# Created once: concurrent first uses meet on the unique constraint and read the same value.
ENSURE_SECRET = """
MERGE (s:Secret {name: $name})
  ON CREATE SET s.value = $candidate, s.createdAt = $now
RETURN s.value AS value
"""
SUPPRESS = """
UNWIND $hashes AS h
MERGE (s:Suppression {hash: h})
  ON CREATE SET s.createdAt = $now
RETURN count(*) AS n
"""
# Which of $hashes are suppressed; the label count (from the count store) skips the lookups
# entirely while there are no suppressions.
SUPPRESSED_AMONG = """
MATCH (x:Suppression) WITH count(x) AS n
UNWIND CASE WHEN n > 0 THEN $hashes ELSE [] END AS h
MATCH (s:Suppression {hash: h})
RETURN collect(h) AS hashes
"""
LIFT = """
MATCH (s:Suppression {hash: $hash})
DELETE s
RETURN count(*) AS n
"""
LIST = """
MATCH (s:Suppression)
RETURN s.hash AS hash, s.createdAt AS createdAt
ORDER BY s.createdAt DESC, s.hash
LIMIT $first
"""
