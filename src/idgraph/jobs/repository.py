"""Every Cypher statement of jobs. Values are parameters; nothing is formatted in.

Model: (:Job {id, kind, status: queued|running|succeeded|failed, done, total, error, cursor,
              params (JSON), createdAt, updatedAt})   times in epoch milliseconds
"""

from __future__ import annotations

CREATE_JOB = """
CREATE (j:Job {id: $id, kind: $kind, status: 'queued', done: 0, total: null, error: null,
               cursor: '', params: $params, createdAt: $now, updatedAt: $now})
RETURN j {.*} AS j
"""
GET_JOB = "MATCH (j:Job {id: $id}) RETURN j {.*} AS j"
LIST_JOBS = "MATCH (j:Job) RETURN j {.*} AS j ORDER BY j.createdAt DESC, j.id LIMIT $first"
# A job of this kind and parameters that has not started (nothing done: not a resumed one,
# which would skip what lies before its cursor): a second request joins it.
QUEUED_JOB = """
MATCH (j:Job {kind: $kind, status: 'queued'}) WHERE j.params = $params AND j.done = 0
RETURN j {.*} AS j ORDER BY j.createdAt LIMIT 1
"""
# Written in the transaction of the chunk it counts: the cursor never runs ahead of the work.
ADVANCE_JOB = """
MATCH (j:Job {id: $id})
SET j.cursor = $cursor, j.done = j.done + $n, j.updatedAt = $now
"""
SET_JOB_STATUS = """
MATCH (j:Job {id: $id})
SET j.status = $status, j.error = $error, j.updatedAt = $now, j.total = coalesce($total, j.total)
RETURN j {.*} AS j
"""
# Jobs a stopped process left queued or running: failed, so they can be resumed.
INTERRUPTED_JOBS = """
MATCH (j:Job) WHERE j.status IN ['queued', 'running']
SET j.status = 'failed', j.error = $error, j.updatedAt = $now
RETURN collect(j.id) AS ids
"""
