// Everything within two links of one identity, active or not, with provenance.
// Parameters: $key (string, "namespace:value" normalised, e.g. "email:jane.doe@example.com")
MATCH (start:Identity {key: $key})
MATCH path = (start)-[:LINK*1..2]-(other:Identity)
UNWIND relationships(path) AS l
WITH DISTINCT l
RETURN startNode(l).key AS a, endNode(l).key AS b, l.source AS source, l.status AS status,
       l.reason AS reason, l.count AS evidence, l.lastSeen AS lastSeen
ORDER BY lastSeen DESC
