// Record fragments and experience events, each unique per (source, id) so re-ingest is a no-op.
CREATE CONSTRAINT record_key IF NOT EXISTS FOR (r:Record) REQUIRE r.key IS UNIQUE;
CREATE INDEX record_source IF NOT EXISTS FOR (r:Record) ON (r.source);
CREATE CONSTRAINT event_key IF NOT EXISTS FOR (e:Event) REQUIRE e.key IS UNIQUE;
CREATE INDEX event_type_time IF NOT EXISTS FOR (e:Event) ON (e.type, e.timestamp);
CREATE INDEX event_source IF NOT EXISTS FOR (e:Event) ON (e.source);
