"""Jobs through GraphQL over HTTP and the CLI against the real Neo4j: a default-policy change
and a computed backfill run as jobs; a job failing half-way (a failure injected through the
service's test-only hook, not a mock) is resumable and then completes from its cursor; reads
while it is half done are correct."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.identity_helpers import ident, ingest, record
from tests.materialised_helpers import assert_views_match
from tests.profile_helpers import CREATE_POLICY, ago, event, wait_job
from tests.test_profile_computed import DEFINE, computed

RESUME = "mutation R($id: ID!) { resumeJob(id: $id) { id status } }"
JOBS = "query { jobs(first: 5) { id kind status done total error } }"
ATTRIBUTES = "query($i: IdentityInput!) { profile(identity: $i) { attributes } }"
PROVENANCE = """
query($i: IdentityInput!) { profile(identity: $i) { attributes attributeProvenance { path } } }
"""
DEFINITIONS = "query { computedAttributes { name ready } }"


@pytest.fixture
def jobs(live_api):
    """The live API's job service, its test-only knobs put back afterwards."""
    service = live_api.app.state.services.jobs
    yield service
    service.fail_after_chunks = None
    service.chunk_size = live_api.app.state.services.settings.job_chunk_size


def five_profiles(gql) -> None:
    ingest(gql, [record(f"{source}{n}", f"crm:C{n}", source=source, day=day,
                        attributes={"x": f"{source}-{n}"})
                 for n in range(5) for source, day in (("crm", 1), ("web", 2))])


def policies_of_views(cypher) -> list[str]:
    return [r["p"] for r in cypher("MATCH (v:ProfileView) RETURN v._policy AS p ORDER BY p")]


def test_a_policy_job_failing_half_way_keeps_reads_correct_and_resumes(gql, cypher, jobs):
    five_profiles(gql)
    jobs.chunk_size, jobs.fail_after_chunks = 2, 1
    started = gql(CREATE_POLICY, {"input": {"name": "crm first", "kind": "DATASET_PRECEDENCE",
                                            "sources": ["crm", "web"], "isDefault": True}})
    policy, job = started["createMergePolicy"]["policy"], started["createMergePolicy"]["job"]
    failed = wait_job(gql, job)
    assert (failed["status"], failed["done"], failed["total"]) == ("FAILED", 2, 5)
    assert "injected failure" in failed["error"] and "resume" in failed["error"]
    assert policies_of_views(cypher) == sorted(["default"] * 3 + [policy["id"]] * 2)
    # Half done: every read follows the policy in force, from a rebuilt view or, for a view of
    # the old policy, merged at read time (the fast path and the general one alike).
    for n in range(5):
        assert gql(ATTRIBUTES, {"i": ident(f"crm:C{n}")})["profile"]["attributes"] == {
            "x": f"crm-{n}"}
        assert gql(PROVENANCE, {"i": ident(f"crm:C{n}")})["profile"]["attributes"] == {
            "x": f"crm-{n}"}
    assert [(j["id"], j["status"]) for j in gql(JOBS)["jobs"]][0] == (job["id"], "FAILED")

    jobs.fail_after_chunks = None
    assert gql(RESUME, {"id": job["id"]})["resumeJob"]["status"] == "QUEUED"
    done = wait_job(gql, job)
    # From the cursor: 2 before the failure, 3 after (a restart from scratch would say 7).
    assert (done["status"], done["done"], done["total"], done["error"]) == (
        "SUCCEEDED", 5, 5, None)
    assert policies_of_views(cypher) == [policy["id"]] * 5
    assert len(assert_views_match(gql, cypher)) == 5


def test_a_backfill_failing_half_way_is_not_read_until_resumed(gql, jobs):
    ingest(gql, [record(str(n), f"crm:C{n}") for n in range(3)],
           events=[event(f"e{n}{k}", f"crm:C{n}", at=ago(days=1), total=n + k)
                   for n in range(3) for k in range(2)])
    jobs.chunk_size, jobs.fail_after_chunks = 2, 1
    made = gql(DEFINE, {"input": {"name": "spend", "function": "SUM", "eventType": "purchase",
                                  "property": "total"}})["createComputedAttribute"]
    assert made["computedAttribute"]["ready"] is False
    failed = wait_job(gql, made["job"])
    assert (failed["status"], failed["done"], failed["total"]) == ("FAILED", 2, None)
    assert gql(DEFINITIONS)["computedAttributes"] == [{"name": "spend", "ready": False}]
    assert all(computed(gql, f"crm:C{n}") == {} for n in range(3))  # never a partial value
    ingest(gql, events=[event("late", "crm:C2", at=ago(hours=1), total=10)])  # kept current

    jobs.fail_after_chunks = None
    gql(RESUME, {"id": made["job"]["id"]})
    done = wait_job(gql, made["job"])
    # 2 before the failure, 5 after (the late event among them, already folded: not twice)
    assert (done["status"], done["done"]) == ("SUCCEEDED", 7)
    assert gql(DEFINITIONS)["computedAttributes"] == [{"name": "spend", "ready": True}]
    assert [computed(gql, f"crm:C{n}") for n in range(3)] == [
        {"spend": 1}, {"spend": 3}, {"spend": 15}]


def test_only_a_failed_job_resumes(gql):
    ingest(gql, [record("1", "crm:C1")])
    job = gql("mutation { rebuildViews { id } }")["rebuildViews"]
    assert wait_job(gql, job)["status"] == "SUCCEEDED"
    again = gql.post(RESUME, {"id": job["id"]}).json()
    assert again["errors"][0]["extensions"]["code"] == "JOB_NOT_RESUMABLE"
    unknown = gql.post(RESUME, {"id": "nope"}).json()
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert gql("query { job(id: \"nope\") { id } }")["job"] is None


def run_cli(neo4j_server, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEO4J_URI": neo4j_server.uri,
           "NEO4J_PASSWORD": neo4j_server.auth[1] if neo4j_server.auth else ""}
    return subprocess.run([sys.executable, "-m", "idgraph", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_rebuilds_views_as_a_job_and_lists_and_watches_jobs(gql, neo4j_server, cypher):
    ingest(gql, [record("1", "crm:C1", attributes={"x": 1}), record("2", "crm:C2")])
    cypher("MATCH (v:ProfileView) DETACH DELETE v")
    rebuilt = run_cli(neo4j_server, "profiles", "rebuild-views")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt 2 profile views (job " in rebuilt.stdout
    assert len(assert_views_match(gql, cypher)) == 2
    job_id = rebuilt.stdout.rsplit("(job ", 1)[1].split(")")[0]
    listed = run_cli(neo4j_server, "jobs", "list")
    assert listed.returncode == 0 and f"{job_id}  view_rebuild" in listed.stdout
    assert "succeeded 2/2" in listed.stdout
    watched = run_cli(neo4j_server, "jobs", "watch", job_id)
    assert watched.returncode == 0 and f"job {job_id} succeeded: 2 done" in watched.stdout
    missing = run_cli(neo4j_server, "jobs", "watch", "nope")
    assert missing.returncode == 1 and "no job 'nope'" in missing.stderr
