// Materialised merged views (profile/materialise.py): one per profile, found by profile id
// when a profile is merged away or deleted. Attribute properties are indexed per deployment,
// for the paths segments filter on most, e.g.
// CREATE INDEX profile_view_city IF NOT EXISTS FOR (v:ProfileView) ON (v.`address.city`);
CREATE CONSTRAINT profile_view_profile IF NOT EXISTS FOR (v:ProfileView) REQUIRE v._profile IS UNIQUE;
