// Which profiles are largest, and which namespaces make them up? (collapse watch)
// Parameters: $limit (integer, e.g. 20)
MATCH (p:Profile)
WITH p ORDER BY p.size DESC LIMIT $limit
MATCH (p)<-[:IN_PROFILE]-(i:Identity)
WITH p, i.namespace AS namespace, count(*) AS n
RETURN p.id AS profile, p.size AS size, p.primaryKey AS primary,
       collect({namespace: namespace, identities: n}) AS makeup
ORDER BY size DESC
