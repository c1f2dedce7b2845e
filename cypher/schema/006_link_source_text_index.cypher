// Links by source (unlinkSource, deletion by source) through a TEXT index instead of a RANGE
// one. A text index serves `{source: $source}` with a string parameter, and the planner never
// picks it for an ingest's `MERGE (a)-[:LINK {source: row.source}]->(b)`, whose value type it
// cannot know: that MERGE always expands between its two identities. With the range index, a
// plan made while the graph was (nearly) empty seeked every link of the source for each pair,
// until a replan some seconds later, and the first batches of a fresh graph slowed down
// quadratically.
DROP INDEX link_source IF EXISTS;
CREATE TEXT INDEX link_source_text IF NOT EXISTS FOR ()-[l:LINK]-() ON (l.source);
