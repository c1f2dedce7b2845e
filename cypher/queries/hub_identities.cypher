// title: Hub identities
// answers: >
//   Which identities have links into many profiles (a shared device, a call-centre phone
//   number, a placeholder e-mail: graph-collapse suspects), and which sources made those links?
//   The linking rules keep such profiles apart by refusing links; this lists where they had to.
// params:
//   minProfiles: {type: int, default: 2, doc: "least number of profiles the identity's links reach"}
//   limit: {type: int, default: 20, doc: "how many identities, most profiles first"}
// ---
MATCH (hub:Identity)-[l:LINK]-(other:Identity)
OPTIONAL MATCH (other)-[:IN_PROFILE]->(p:Profile)
WITH hub, collect(DISTINCT p.id) AS profiles, collect(l) AS links
WHERE size(profiles) >= $minProfiles
CALL (links) {
  UNWIND links AS l
  WITH l.source AS source, count(*) AS n,
       sum(CASE WHEN l.status = 'active' THEN 0 ELSE 1 END) AS blocked
  ORDER BY n DESC, source
  RETURN collect(source + ': ' + toString(n) + ' (' + toString(blocked)
                 + ' refused or unlinked)') AS bySource
}
RETURN hub.key AS identity, size(profiles) AS profiles, size(links) AS links, bySource AS sources
ORDER BY profiles DESC, links DESC, identity
LIMIT $limit
