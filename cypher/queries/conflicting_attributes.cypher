// title: Conflicting attribute values
// answers: >
//   Which profiles got different values for one attribute from different sources (the merge
//   policy picked one; attributeProvenance shows which and what it beat)? Values are shown as
//   JSON text; a null, an object or a list is not a value here.
// params:
//   attribute: {type: string, doc: "the attribute's dotted path, e.g. firstName or address.city"}
//   limit: {type: int, default: 50, doc: "how many profiles, most distinct values first"}
// ---
MATCH (p:Profile)<-[:IN_PROFILE]-(:Identity)<-[:KEYED_BY]-(r:Record)
WITH DISTINCT p, r
// A record's attributes are JSON text, compact, keys sorted, non-ASCII escaped
// (identity/items.py). With escaped backslashes and quotes set aside, splitting on '"'
// alternates JSON structure (even pieces) and string contents (odd pieces).
WITH p, r, split(replace(replace(r.attributes, '\\\\', '\u0001'), '\\"', '\u0002'), '"') AS pieces
// Nesting depth before each piece: brackets opened minus closed in the structure so far.
WITH p, r, pieces, reduce(depths = [0], k IN range(0, size(pieces) - 1, 2) |
       depths + [last(depths)
                 + size(pieces[k]) - size(replace(replace(pieces[k], '{', ''), '[', ''))
                 - size(pieces[k]) + size(replace(replace(pieces[k], '}', ''), ']', ''))]) AS depths
// Object keys: a string followed by ':'; [piece index, depth].
WITH p, r, pieces, [i IN range(1, size(pieces) - 2, 2)
                    WHERE pieces[i + 1] STARTS WITH ':' | [i, depths[(i + 1) / 2]]] AS keys
// Each key's path from the root: the path of the key before it, cut to this depth, and '[]'
// for each list level in between (a key inside a list never matches a dotted path).
WITH p, r, pieces, keys, reduce(paths = [[]], key IN keys |
       paths + [last(paths)[0..key[1] - 1]
                + [x IN range(size(last(paths)), key[1] - 2) | '[]'] + [pieces[key[0]]]]) AS paths
WITH p, r, pieces, [j IN range(0, size(keys) - 1) WHERE paths[j + 1] = split($attribute, '.')
                    | keys[j][0]][0] AS at
WHERE at IS NOT NULL
WITH p, r, CASE
       WHEN pieces[at + 1] = ':'
         THEN '"' + replace(replace(pieces[at + 2], '\u0002', '\\"'), '\u0001', '\\\\') + '"'
       WHEN pieces[at + 1] STARTS WITH ':{' OR pieces[at + 1] STARTS WITH ':[' THEN null
       ELSE trim(split(split(split(substring(pieces[at + 1], 1), ',')[0], '}')[0], ']')[0])
     END AS value
WHERE value IS NOT NULL AND value <> 'null'
WITH p, collect({source: r.source, value: value, record: r.recordId}) AS seen
WHERE any(x IN seen WHERE any(y IN seen WHERE x.source <> y.source AND x.value <> y.value))
CALL (seen) {
  UNWIND seen AS s
  WITH s ORDER BY s.value, s.source, s.record
  RETURN collect(DISTINCT s.value) AS values,
         collect(s.value + ' from ' + s.source + ' (' + s.record + ')') AS evidence
}
RETURN p.id AS profile, $attribute AS attribute, size(values) AS distinctValues, values, evidence
ORDER BY distinctValues DESC, profile
LIMIT $limit
