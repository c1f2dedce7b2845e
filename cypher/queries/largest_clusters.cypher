// title: Largest clusters
// answers: >
//   Which profiles hold the most identities, and of which namespaces? A profile near
//   IDGRAPH_MAX_CLUSTER_SIZE (50) is a graph-collapse suspect.
// params:
//   limit: {type: int, default: 20, doc: "how many profiles, largest first"}
// ---
MATCH (p:Profile)
WITH p ORDER BY p.size DESC, p.id LIMIT $limit
CALL (p) {
  MATCH (p)<-[:IN_PROFILE]-(i:Identity)
  WITH i.namespace AS namespace, count(*) AS n
  ORDER BY n DESC, namespace
  RETURN collect(namespace + ': ' + toString(n)) AS makeup
}
RETURN p.id AS profile, p.size AS identities, p.primaryKey AS primaryIdentity, makeup
ORDER BY identities DESC, profile
