"""Helpers for merged-profile tests: events, policies and profile reads over GraphQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.identity_helpers import ident

ATTRIBUTES = """
query A($identity: IdentityInput!, $policy: ID) {
  profile(identity: $identity) {
    id attributes(mergePolicy: $policy)
    attributeProvenance(mergePolicy: $policy) {
      path value source recordId timestamp beaten { value source recordId timestamp }
    }
  }
}
"""
CREATE_POLICY = """
mutation C($input: MergePolicyInput!) {
  createMergePolicy(input: $input) {
    policy { id name kind sources stitching isDefault } job { id }
  }
}
"""
UPDATE_POLICY = """
mutation U($id: ID!, $input: MergePolicyInput!) {
  updateMergePolicy(id: $id, input: $input) {
    policy { id name kind sources stitching isDefault } job { id }
  }
}
"""
DELETE_POLICY = "mutation D($id: ID!) { deleteMergePolicy(id: $id) { deleted job { id } } }"
JOB = "query J($id: ID!) { job(id: $id) { id kind status done total error } }"
EVENTS = """
query E($identity: IdentityInput!, $first: Int, $after: String, $types: [String!],
        $since: DateTime, $until: DateTime) {
  profile(identity: $identity) {
    events(first: $first, after: $after, types: $types, since: $since, until: $until) {
      edges { cursor node { id type timestamp properties } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ago(**delta) -> str:
    return iso(datetime.now(UTC) - timedelta(**delta))


def event(event_id: str, *identities: str, at: str, type: str = "purchase",
          source: str = "web", **properties) -> dict:
    return {"source": source, "eventId": event_id, "timestamp": at, "type": type,
            "identities": [ident(i) for i in identities], "properties": properties}


def attributes(gql, identity: str, policy: str | None = None) -> dict:
    return gql(ATTRIBUTES, {"identity": ident(identity), "policy": policy})["profile"]


def wait_job(gql, job: dict | None) -> dict | None:
    """Poll a job until it has finished (bounded: 60 s); its last state."""
    if job is None:
        return None
    for _ in range(1200):
        state = gql(JOB, {"id": job["id"]})["job"]
        if state["status"] in ("SUCCEEDED", "FAILED"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job['id']} did not finish: {state}")


def create_policy(gql, name: str, **fields) -> dict:
    """Create a policy and wait for the view rebuild it started, if any; the policy."""
    made = gql(CREATE_POLICY, {"input": {"name": name, **fields}})["createMergePolicy"]
    wait_job(gql, made["job"])
    return made["policy"]


def update_policy(gql, policy_id: str, **fields) -> dict:
    """Update a policy and wait for the view rebuild it started, if any; the policy."""
    made = gql(UPDATE_POLICY, {"id": policy_id, "input": fields})["updateMergePolicy"]
    wait_job(gql, made["job"])
    return made["policy"]


def delete_policy(gql, policy_id: str) -> bool:
    done = gql(DELETE_POLICY, {"id": policy_id})["deleteMergePolicy"]
    wait_job(gql, done["job"])
    return done["deleted"]


def events_page(gql, identity: str, **args) -> dict:
    return gql(EVENTS, {"identity": ident(identity), **args})["profile"]["events"]
