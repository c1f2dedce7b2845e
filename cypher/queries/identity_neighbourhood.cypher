// title: Identity neighbourhood
// answers: >
//   Every link within two steps of one identity, whatever its status, with its provenance:
//   what the graph knows around a customer, including the links the rules refused.
// params:
//   key: {type: string, doc: "the identity as namespace:value, normalised, e.g. email:jane.doe@example.com"}
// ---
MATCH (start:Identity {key: $key})
MATCH path = (start)-[:LINK*1..2]-(:Identity)
UNWIND relationships(path) AS l
WITH DISTINCT l
RETURN startNode(l).key AS a, endNode(l).key AS b, l.source AS source, l.status AS status,
       l.reason AS reason, l.count AS evidence, datetime({epochMillis: l.lastSeen}) AS lastSeen
ORDER BY lastSeen DESC, a, b
