"""Helpers for the segment API tests: saved segments, evaluation jobs and members over GraphQL."""

from __future__ import annotations

import time

from tests.identity_helpers import ingest, record

SEGMENT_FIELDS = """
  id name description definition text definitionJson version createdAt updatedAt
  dependsOnTime includeTestProfiles mergePolicy includes size
  lastEvaluation { jobId job { id status } at asOf version size
                   counts { realized existing exited entered exitedNow purged } }
"""
CREATE = f"""
mutation C($input: SegmentInput!) {{ createSegment(input: $input) {{ {SEGMENT_FIELDS} }} }}
"""
UPDATE = f"""
mutation U($id: ID!, $input: SegmentUpdateInput!) {{
  updateSegment(id: $id, input: $input) {{ {SEGMENT_FIELDS} }}
}}
"""
DELETE = "mutation D($id: ID!) { deleteSegment(id: $id) { id } }"
GET = f"query G($id: ID!) {{ segment(id: $id) {{ {SEGMENT_FIELDS} }} }}"
LIST = """
query L($first: Int, $after: String) {
  segments(first: $first, after: $after) {
    edges { cursor node { id name } } pageInfo { hasNextPage endCursor }
  }
}
"""
EVALUATE = """
mutation E($id: ID!, $asOf: DateTime) {
  evaluateSegment(id: $id, asOf: $asOf) { id kind status done total }
}
"""
EVALUATE_ALL = """
mutation E($ids: [ID!], $asOf: DateTime) {
  evaluateSegments(ids: $ids, asOf: $asOf) { id kind status }
}
"""
JOB = "query J($id: ID!) { job(id: $id) { id kind status done total error } }"
MEMBERS = """
query M($id: ID!, $first: Int, $after: String, $status: [MembershipStatus!]) {
  segment(id: $id) {
    members(first: $first, after: $after, status: $status) {
      edges { cursor node { profileId status since changedAt
                            primaryIdentity { namespace value } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
PREVIEW = """
query P($definition: String, $asOf: DateTime, $sampleSize: Int!, $test: Boolean! = false) {
  previewSegment(definition: $definition, asOf: $asOf, sampleSize: $sampleSize,
                 includeTestProfiles: $test) {
    count sample { id primaryIdentity { namespace value } } cypher parameters asOf
  }
}
"""


def create(gql, name: str, definition: str, **fields) -> dict:
    return gql(CREATE, {"input": {"name": name, "definition": definition,
                                  **fields}})["createSegment"]


def segment(gql, segment_id: str) -> dict | None:
    return gql(GET, {"id": segment_id})["segment"]


def wait_job(gql, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = gql(JOB, {"id": job_id})["job"]
        if job["status"] in ("SUCCEEDED", "FAILED"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def evaluate(gql, segment_id: str, as_of: str | None = None) -> dict:
    """Evaluate and wait; the finished job."""
    job = gql(EVALUATE, {"id": segment_id, "asOf": as_of})["evaluateSegment"]
    finished = wait_job(gql, job["id"])
    assert finished["status"] == "SUCCEEDED", finished
    return finished


def evaluate_all(gql, as_of: str | None = None, ids: list[str] | None = None) -> dict:
    job = gql(EVALUATE_ALL, {"asOf": as_of, "ids": ids})["evaluateSegments"]
    finished = wait_job(gql, job["id"])
    assert finished["status"] == "SUCCEEDED", finished
    return finished


def members(gql, segment_id: str, status: list[str] | None = None,
            first: int = 100) -> dict[str, str]:
    """Profile id -> status of a segment's members (all pages)."""
    found, after = {}, None
    while True:
        page = gql(MEMBERS, {"id": segment_id, "first": first, "after": after,
                             "status": status})["segment"]["members"]
        found.update({e["node"]["profileId"]: e["node"]["status"] for e in page["edges"]})
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def person(gql, n: int, day: int = 1, test: bool = False, **attributes) -> str:
    """Ingest customer `n` (crm:C<n>, email) with `attributes` as of 2025-01-<day> (a later
    day wins the merge); their profile id."""
    if test:
        attributes["testProfile"] = True
    item = record(f"r{n}-d{day}", f"crm:C{n}", f"email:c{n}@example.com", day=day,
                  attributes=attributes)
    result = ingest(gql, [item])
    assert result["rejected"] == 0, result
    return profile_id(gql, n)


def profile_id(gql, n: int) -> str:
    query = "query($i: IdentityInput!) { profile(identity: $i) { id } }"
    return gql(query, {"i": {"namespace": "crm", "value": f"C{n}"}})["profile"]["id"]
