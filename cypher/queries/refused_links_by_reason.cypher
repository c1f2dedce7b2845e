// Why were links refused, by source? (how often the linking rules prevent a collapse)
// Parameters: none
MATCH (:Identity)-[l:LINK]->(:Identity)
WHERE l.status IN ['refused', 'unlinked']
RETURN l.source AS source, l.status AS status,
       CASE WHEN l.reason STARTS WITH 'unique namespace'
            THEN 'unique namespace ' + split(split(l.reason, 'unique namespace ')[1], ':')[0]
            ELSE l.reason END AS reason,
       count(*) AS links
ORDER BY links DESC
