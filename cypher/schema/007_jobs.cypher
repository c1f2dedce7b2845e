// Long maintenance jobs (jobs/service.py): view rebuilds after a default merge-policy change,
// computed-attribute backfills. Found by id; listed newest first.
CREATE CONSTRAINT job_id IF NOT EXISTS FOR (j:Job) REQUIRE j.id IS UNIQUE;
CREATE INDEX job_created_at IF NOT EXISTS FOR (j:Job) ON (j.createdAt);
