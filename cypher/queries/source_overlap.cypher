// title: Overlap between sources
// answers: >
//   For each pair of sources, how many profiles both have seen (a record or an event from each),
//   beside how many each has seen, and the overlap as a share of the profiles either has seen.
// params:
//   limit: {type: int, default: 100, doc: "how many pairs, largest overlap first"}
// ---
MATCH (p:Profile)<-[:IN_PROFILE]-(:Identity)<-[:KEYED_BY|ABOUT]-(item)
WITH p, collect(DISTINCT item.source) AS sources
UNWIND sources AS a
UNWIND sources AS b
// a = b counts the profiles a source has seen at all
WITH a, b, count(p) AS profiles
WITH collect({a: a, b: b, n: profiles}) AS cells
UNWIND cells AS cell
WITH cell, cells WHERE cell.a < cell.b
WITH cell, [c IN cells WHERE c.a = cell.a AND c.b = cell.a | c.n][0] AS inA,
     [c IN cells WHERE c.a = cell.b AND c.b = cell.b | c.n][0] AS inB
RETURN cell.a AS sourceA, cell.b AS sourceB, cell.n AS inBoth, inA, inB,
       round(100.0 * cell.n / (inA + inB - cell.n), 1) AS overlapPercent
ORDER BY inBoth DESC, sourceA, sourceB
LIMIT $limit
