"""Every Cypher statement of jobs. Values are parameters; nothing is formatted in.

Model: (:Job {id, kind, status: queued|running|succeeded|failed, done, total, error, cursor,
              params (JSON), createdAt, updatedAt, holder, leaseUntil})   times in epoch ms
A queued or running job is held by one process (`holder`) until `leaseUntil` (the server's
clock), renewed by that process's heartbeat; once the lease has expired the job is stale: its
process stopped, and another may resume it.
"""

from __future__ import annotations

CREATE_JOB = """
CREATE (j:Job {id: $id, kind: $kind, status: 'queued', done: 0, total: null, error: null,
               cursor: '', params: $params, createdAt: $now, updatedAt: $now,
               holder: $holder, leaseUntil: timestamp() + $ttl})
RETURN j {.*} AS j
"""
GET_JOB = "MATCH (j:Job {id: $id}) RETURN j {.*} AS j"
LIST_JOBS = "MATCH (j:Job) RETURN j {.*} AS j ORDER BY j.createdAt DESC, j.id LIMIT $first"
# A job of this kind and parameters that has not started (nothing done: not a resumed one,
# which would skip what lies before its cursor): a second request joins it.
QUEUED_JOB = """
MATCH (j:Job {kind: $kind, status: 'queued'})
WHERE j.params = $params AND j.done = 0 AND j.leaseUntil >= timestamp()
RETURN j {.*} AS j ORDER BY j.createdAt LIMIT 1
"""
# Written in the transaction of the chunk it counts: the cursor never runs ahead of the work.
# Only by the job's holder (the node locked first, then its holder read): a process that lost
# the job (its lease expired and another took it) gets no row, and its chunk is rolled back.
ADVANCE_JOB = """
MATCH (j:Job {id: $id})
SET j.lockedAt = $now
WITH j WHERE j.holder = $holder
SET j.cursor = $cursor, j.done = j.done + $n, j.updatedAt = $now,
    j.leaseUntil = timestamp() + $ttl
RETURN count(j) AS held
"""
# The holder's status changes (running, total, succeeded, failed): nothing if it lost the job.
SET_JOB_STATUS = """
MATCH (j:Job {id: $id})
SET j.lockedAt = $now
WITH j WHERE j.holder = $holder
SET j.status = $status, j.error = $error, j.updatedAt = $now, j.total = coalesce($total, j.total)
RETURN j {.*} AS j
"""
# Take a job to run: queued, or stale (running or queued past its lease). Locked before its
# status is read, so of two processes claiming it one gets it.
CLAIM_JOB = """
MATCH (j:Job {id: $id})
SET j.lockedAt = $now
WITH j WHERE j.holder = $holder AND j.status = 'queued'
   OR j.status IN ['queued', 'running'] AND coalesce(j.leaseUntil, 0) < timestamp()
SET j.status = 'running', j.holder = $holder, j.leaseUntil = timestamp() + $ttl,
    j.error = null, j.updatedAt = $now
RETURN j {.*} AS j
"""
# A failed or stale job queued again for this process (resumeJob).
REQUEUE_JOB = """
MATCH (j:Job {id: $id})
SET j.lockedAt = $now
WITH j WHERE j.status = 'failed'
   OR j.status IN ['queued', 'running'] AND coalesce(j.leaseUntil, 0) < timestamp()
SET j.status = 'queued', j.holder = $holder, j.leaseUntil = timestamp() + $ttl,
    j.error = null, j.updatedAt = $now
RETURN j {.*} AS j
"""
# The heartbeat of a process: its queued and running jobs stay its own.
RENEW_JOBS = """
MATCH (j:Job) WHERE j.holder = $holder AND j.status IN ['queued', 'running']
SET j.leaseUntil = timestamp() + $ttl
RETURN count(j) AS renewed
"""
# Jobs whose process stopped (lease expired): failed, so they can be resumed.
INTERRUPTED_JOBS = """
MATCH (j:Job) WHERE j.status IN ['queued', 'running'] AND coalesce(j.leaseUntil, 0) < timestamp()
SET j.status = 'failed', j.error = $error, j.updatedAt = $now
RETURN collect(j.id) AS ids
"""
