// The shared change feed (pipeline/outbox.py): an ordered outbox of committed changes that every
// API process tails for its subscribers; shards locked by writers, the head that orders entries.
CREATE CONSTRAINT change_feed_name IF NOT EXISTS FOR (f:ChangeFeed) REQUIRE f.name IS UNIQUE;
CREATE CONSTRAINT change_feed_shard IF NOT EXISTS FOR (s:ChangeFeedShard) REQUIRE s.n IS UNIQUE;
CREATE CONSTRAINT change_entry_seq IF NOT EXISTS FOR (e:ChangeEntry) REQUIRE e.seq IS UNIQUE;
CREATE INDEX change_entry_at IF NOT EXISTS FOR (e:ChangeEntry) ON (e.at);
