// Devices and cookies seen with more than one person-level unique identity (shared devices).
// Parameters: $minPeople (integer, e.g. 2)
MATCH (d:Identity)-[:LINK]-(person:Identity)
WHERE d.namespace IN ['device', 'ecid'] AND person.namespace IN ['crm', 'loyalty', 'login']
WITH d, collect(DISTINCT person.key) AS people
WHERE size(people) >= $minPeople
RETURN d.key AS device, size(people) AS people, people[..10] AS sample
ORDER BY people DESC
