// No index on an identity's namespace. Nothing seeks identities by namespace alone: every
// query reaching an identity's namespace comes from its profile or a link (activation, segment
// rules, explorations), or counts all identities (dashboards, `identities_per_namespace`).
// The index held a handful of values over millions of identities, and every new identity paid
// for it at commit: at 1,000,000 profiles, the bare driver writing idgraph's data for 20,000
// new people spent 2.4-2.9 s in commits without it against 3.2-3.5 s with it, and 4.5-6.2 s of
// server CPU against 6.5-7.3 s (issue #19, bench/results/scale-1000000.md).
DROP INDEX identity_namespace IF EXISTS;
