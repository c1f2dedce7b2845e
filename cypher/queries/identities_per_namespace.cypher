// title: Identities per namespace
// answers: >
//   How many identities each namespace holds, how many of them belong to a profile, and how
//   linked they are (links per identity, any status).
// params: {}
// ---
MATCH (i:Identity)
WITH i, COUNT { (i)-[:IN_PROFILE]->(:Profile) } AS inProfile, COUNT { (i)-[:LINK]-() } AS links
RETURN i.namespace AS namespace, count(i) AS identities, sum(inProfile) AS inProfiles,
       round(avg(links), 2) AS linksPerIdentity, max(links) AS mostLinks
ORDER BY identities DESC, namespace
