// The ingest backlog (pipeline/backlog.py): batches accepted by a deferred ingest
// (`ingestDeferred`, `idgraph ingest --defer`) whose profiles, views, segments and counters
// the settler builds later, oldest first. One head node serialises the settlers.
CREATE CONSTRAINT backlog_entry_seq IF NOT EXISTS FOR (b:BacklogEntry) REQUIRE b.seq IS UNIQUE;
CREATE CONSTRAINT backlog_head_name IF NOT EXISTS FOR (h:BacklogHead) REQUIRE h.name IS UNIQUE;
