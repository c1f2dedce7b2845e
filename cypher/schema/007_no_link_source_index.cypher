// No index on LINK.source: a source's links are found from its items, which are indexed by
// source (identity/repository.py, LINKS_OF_SOURCE). The TEXT index of 006 was a Lucene index
// that every link written paid for (its updates, refreshes and merges were about 5% of an
// ingest's Neo4j CPU) for the benefit of unlinking or deleting a whole source.
DROP INDEX link_source_text IF EXISTS;
