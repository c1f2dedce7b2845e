// Segments (segments/repository.py): saved rules, their memberships, the scheduler's lease.
CREATE CONSTRAINT segment_id IF NOT EXISTS FOR (s:Segment) REQUIRE s.id IS UNIQUE;
CREATE CONSTRAINT segment_name IF NOT EXISTS FOR (s:Segment) REQUIRE s.name IS UNIQUE;
// Membership: (:Profile)-[:IN_SEGMENT {segment, profile, status, since, changedAt, version}]->
// (:Segment). A profile's segments are its own few relationships; a segment's members are read
// through this index, in profile id order (cursor paging) without expanding every member.
CREATE INDEX in_segment_member IF NOT EXISTS FOR ()-[m:IN_SEGMENT]-() ON (m.segment, m.profile);
// The scheduler's lease: one holder at a time among API processes sharing this database.
CREATE CONSTRAINT lease_name IF NOT EXISTS FOR (l:Lease) REQUIRE l.name IS UNIQUE;
// Definitions change under one lock node (inSegment cycles and names are checked under it).
CREATE CONSTRAINT segment_catalog_name IF NOT EXISTS FOR (c:SegmentCatalog) REQUIRE c.name IS UNIQUE;
