// Privacy (profile/deletion.py, profile/suppression.py): refused-link history entries are found
// by kind when a deletion scrubs the ones naming deleted identities; suppressed identities are
// salted hashes looked up per ingest batch; the salt is one secret node, created on first use.
CREATE INDEX cluster_change_kind IF NOT EXISTS FOR (c:ClusterChange) ON (c.kind);
CREATE CONSTRAINT suppression_hash IF NOT EXISTS FOR (s:Suppression) REQUIRE s.hash IS UNIQUE;
CREATE CONSTRAINT secret_name IF NOT EXISTS FOR (s:Secret) REQUIRE s.name IS UNIQUE;
