// Dashboard counters (profile/counters.py): sharded counter nodes kept by the pipeline's
// counters stage; test profiles are found from their flagged records at read time.
CREATE CONSTRAINT counter_id IF NOT EXISTS FOR (c:Counter) REQUIRE c.id IS UNIQUE;
CREATE CONSTRAINT counter_shard IF NOT EXISTS FOR (s:CounterShard) REQUIRE s.shard IS UNIQUE;
CREATE INDEX record_test_profile IF NOT EXISTS FOR (r:Record) ON (r.testProfile);
