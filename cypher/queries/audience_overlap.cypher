// title: Overlap between two audiences
// answers: >
//   How many profiles are members of both segments, beside each segment's own members, the
//   overlap as a share of the profiles in either, and a sample of the shared profiles. No row
//   when either segment id is unknown.
// params:
//   segmentA: {type: string, doc: "a segment id"}
//   segmentB: {type: string, doc: "another segment id"}
//   statuses: {type: strings, default: [realized, existing], doc: "membership statuses that count (exited ones do not by default)"}
//   sample: {type: int, default: 10, doc: "how many shared profile ids to show"}
// ---
MATCH (a:Segment {id: $segmentA})
MATCH (b:Segment {id: $segmentB})
CALL (a) {
  MATCH (:Profile)-[m:IN_SEGMENT]->(a) WHERE m.status IN $statuses
  RETURN count(m) AS inA
}
CALL (b) {
  MATCH (:Profile)-[m:IN_SEGMENT]->(b) WHERE m.status IN $statuses
  RETURN count(m) AS inB
}
CALL (a, b) {
  MATCH (a)<-[ma:IN_SEGMENT]-(p:Profile)-[mb:IN_SEGMENT]->(b)
  WHERE ma.status IN $statuses AND mb.status IN $statuses
  WITH p ORDER BY p.id
  RETURN count(p) AS inBoth, collect(p.id)[..$sample] AS sharedSample
}
RETURN a.id AS segmentA, b.id AS segmentB, inA, inB, inBoth,
       CASE WHEN inA + inB - inBoth = 0 THEN 0.0
            ELSE round(100.0 * inBoth / (inA + inB - inBoth), 1) END AS overlapPercent,
       sharedSample
