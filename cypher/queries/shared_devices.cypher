// title: Shared devices
// answers: >
//   Which devices and cookies were seen with more than one person-level unique identity (a
//   family tablet, a shop's kiosk), with a sample of those people.
// params:
//   minPeople: {type: int, default: 2, doc: "least number of people per device"}
//   deviceNamespaces: {type: strings, default: [device, ecid], doc: "namespaces of devices and cookies"}
//   personNamespaces: {type: strings, default: [crm, loyalty, login], doc: "namespaces naming one person each"}
// ---
MATCH (d:Identity)-[:LINK]-(person:Identity)
WHERE d.namespace IN $deviceNamespaces AND person.namespace IN $personNamespaces
WITH DISTINCT d, person.key AS personKey
ORDER BY personKey
// Ordered before collecting: the sample is the same on every run.
WITH d, collect(personKey) AS people
WHERE size(people) >= $minPeople
RETURN d.key AS device, size(people) AS people, people[..10] AS sample
ORDER BY people DESC, device
