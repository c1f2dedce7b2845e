// title: Profiles changed in a time range
// answers: >
//   Which profiles changed between two times, and how: created, merged, split, a link refused,
//   records or events ingested. Merged-away ids are shown as the profile they became; most
//   recently changed first.
// params:
//   since: {type: datetime, default: "-7d", doc: "start of the range (inclusive): ISO 8601, now, -7d, -12h"}
//   until: {type: datetime, default: "now", doc: "end of the range (exclusive)"}
//   limit: {type: int, default: 100, doc: "how many profiles"}
// ---
// Records and events are found by scanning (no index on ingestedAt): on a large graph keep the
// range short; the saved-query time limit stops a run that takes too long.
CALL () {
  MATCH (p:Profile) WHERE p.createdAt >= $since AND p.createdAt < $until
  RETURN p.id AS id, 'created' AS kind, p.createdAt AS at
  UNION ALL
  MATCH (c:ClusterChange) WHERE c.at >= $since AND c.at < $until
  RETURN c.profileId AS id, c.kind AS kind, c.at AS at
  UNION ALL
  MATCH (r:Record) WHERE r.ingestedAt >= $since AND r.ingestedAt < $until
  MATCH (r)-[:KEYED_BY]->(:Identity)-[:IN_PROFILE]->(p:Profile)
  WITH DISTINCT p, r
  RETURN p.id AS id, 'record ingested' AS kind, r.ingestedAt AS at
  UNION ALL
  MATCH (e:Event) WHERE e.ingestedAt >= $since AND e.ingestedAt < $until
  MATCH (e)-[:ABOUT]->(:Identity)-[:IN_PROFILE]->(p:Profile)
  WITH DISTINCT p, e
  RETURN p.id AS id, 'event ingested' AS kind, e.ingestedAt AS at
}
// A history entry may name a profile merged away since: show the one it became.
OPTIONAL MATCH (alias:ProfileAlias {id: id})
WITH coalesce(alias.mergedInto, id) AS profile, kind, count(*) AS n, max(at) AS last
ORDER BY n DESC, kind
WITH profile, collect(kind + ': ' + toString(n)) AS changes, max(last) AS lastChange
RETURN profile, changes, datetime({epochMillis: lastChange}) AS lastChange
ORDER BY lastChange DESC, profile
LIMIT $limit
