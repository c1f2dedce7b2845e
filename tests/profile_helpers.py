"""Helpers for merged-profile tests: events, policies and profile reads over GraphQL."""

from __future__ import annotations

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
  createMergePolicy(input: $input) { id name kind sources stitching isDefault }
}
"""
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


def create_policy(gql, name: str, **fields) -> dict:
    return gql(CREATE_POLICY, {"input": {"name": name, **fields}})["createMergePolicy"]


def events_page(gql, identity: str, **args) -> dict:
    return gql(EVENTS, {"identity": ident(identity), **args})["profile"]["events"]
