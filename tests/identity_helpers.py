"""Helpers for identity scenario tests: build records and call the GraphQL API."""

from __future__ import annotations

INGEST = """
mutation Ingest($records: [RecordInput!], $events: [EventInput!]) {
  ingest(records: $records, events: $events) {
    accepted duplicates rejected
    errors { kind index code message }
    profilesCreated merges { mergedProfileId intoProfileId }
    splits { profileId fromProfileIds }
    refusedLinks { a { namespace value } b { namespace value } reason }
  }
}
"""
PROFILE = """
query Profile($identity: IdentityInput!) {
  profile(identity: $identity) {
    id size primaryIdentity { namespace value } identities { namespace value }
  }
}
"""


def ident(pair: str) -> dict:
    namespace, value = pair.split(":", 1)
    return {"namespace": namespace, "value": value}


def record(record_id: str, *identities: str, day: int = 1, source: str = "crm",
           attributes: dict | None = None) -> dict:
    return {"source": source, "recordId": record_id,
            "timestamp": f"2025-01-{day:02d}T12:00:00Z",
            "identities": [ident(i) for i in identities], "attributes": attributes}


def ingest(gql, records=(), events=()) -> dict:
    return gql(INGEST, {"records": list(records), "events": list(events)})["ingest"]


def profile(gql, identity: str) -> dict | None:
    return gql(PROFILE, {"identity": ident(identity)})["profile"]


def members(gql, identity: str) -> set[str]:
    found = profile(gql, identity)
    return {f"{i['namespace']}:{i['value']}" for i in found["identities"]} if found else set()
