// title: Refused and removed links, by reason
// answers: >
//   Which links did the linking rules refuse (a unique namespace already held, the cluster size
//   limit) or did people unlink, by source and reason: how often the rules prevent a collapse,
//   and which sources cause it. Reasons naming identities are grouped by namespace.
// params:
//   examples: {type: int, default: 3, doc: "how many example pairs per row"}
// ---
MATCH (a:Identity)-[l:LINK]->(b:Identity)
WHERE l.status IN ['refused', 'unlinked']
WITH l, a, b, CASE WHEN l.reason STARTS WITH 'unique namespace '
                   THEN split(l.reason, ':')[0]
                   ELSE coalesce(l.reason, 'no reason recorded') END AS reason
ORDER BY a.key, b.key
WITH l.source AS source, l.status AS status, reason, count(*) AS links,
     collect(a.key + ' - ' + b.key) AS pairs
RETURN source, status, reason, links, pairs[..$examples] AS examples
ORDER BY links DESC, source, status, reason
