"""Every Cypher statement of the shared change feed (pipeline/outbox.py). Values are parameters.

Model: (:ChangeFeed {name, seq, epoch, listenedUntil})  the head: orders entries, says whether
                                                        anyone listens (until when, server ms)
       (:ChangeFeedShard {n, lockedAt})                 SHARDS of them, one locked per write
       (:ChangeEntry {seq, at, events})                 one committed change (events as JSON)
Times are the server's clock (`timestamp()`), so processes on hosts with skewed clocks agree.
"""

from __future__ import annotations

# In the writer's transaction, last: lock one shard (a listener's registration locks them all,
# so it waits for this commit, and every write after it sees the listener), then, if anyone
# listens and the events came along, take the next sequence number (the head stays locked until
# this commit, so entries become visible in sequence order) and store the entry. The head is
# locked (lockedAt) before its seq is read, so no two writers take one number.
RECORD = """
MERGE (s:ChangeFeedShard {n: $shard})
SET s.lockedAt = timestamp()
WITH s
OPTIONAL MATCH (f:ChangeFeed {name: $name})
WITH f, coalesce(f.listenedUntil >= timestamp(), false) AS listening
CALL {
  WITH f, listening
  WITH f WHERE listening AND $events IS NOT NULL
  SET f.lockedAt = timestamp()
  SET f.seq = f.seq + 1
  CREATE (:ChangeEntry {seq: f.seq, at: timestamp(), events: $events})
}
RETURN listening
"""
# The events, when RECORD found a listener it had not expected (same transaction).
APPEND = """
MATCH (f:ChangeFeed {name: $name})
SET f.lockedAt = timestamp()
SET f.seq = f.seq + 1
CREATE (:ChangeEntry {seq: f.seq, at: timestamp(), events: $events})
"""
# A process with subscribers says it listens (and renews that): every shard locked in order,
# then the head, so writes in flight commit first; returns where the feed stands.
LISTEN = """
UNWIND $shards AS n
MERGE (s:ChangeFeedShard {n: n})
SET s.lockedAt = timestamp()
WITH count(s) AS locked
MERGE (f:ChangeFeed {name: $name})
  ON CREATE SET f.seq = 0, f.epoch = randomUUID(), f.listenedUntil = 0
WITH f, timestamp() + $ttl AS until
SET f.listenedUntil = CASE WHEN f.listenedUntil > until THEN f.listenedUntil ELSE until END
RETURN f.epoch AS epoch, f.seq AS seq
"""
# Entries after `after`, in order, and the head's epoch (a new epoch: the feed was emptied).
POLL = """
OPTIONAL MATCH (f:ChangeFeed {name: $name})
RETURN f.epoch AS epoch, f.seq AS seq, COLLECT {
  MATCH (e:ChangeEntry) WHERE e.seq > $after
  RETURN [e.seq, e.events] ORDER BY e.seq LIMIT $limit
} AS entries
"""
PRUNE = """
MATCH (e:ChangeEntry) WHERE e.at < timestamp() - $retention
WITH e LIMIT $limit
DELETE e
RETURN count(*) AS pruned
"""
