"""Default-policy `attributes` are served from the materialised view (no merge at read time),
and fall back to merging fragments whenever the view does not apply."""

from __future__ import annotations

import json

from tests.identity_helpers import ident, ingest, record
from tests.profile_helpers import create_policy, update_policy

ATTRS = "query($i: IdentityInput!) { profile(identity: $i) { attributes } }"


def attributes(gql, identity: str) -> dict:
    return gql(ATTRS, {"i": ident(identity)})["profile"]["attributes"]


def mark_view(cypher, identity: str, marker: dict) -> None:
    cypher("MATCH (:Identity {key: $k})-[:IN_PROFILE]->(:Profile)-[:VIEW]->(v) "
           "SET v._json = $j", k=identity, j=json.dumps(marker))


def test_default_attributes_come_from_the_view(gql, cypher):
    ingest(gql, [record("1", "crm:C1", "email:a@x.com", attributes={"tier": "gold"})])
    assert attributes(gql, "email:a@x.com") == {"tier": "gold"}
    mark_view(cypher, "crm:C1", {"served": "from the view"})
    assert attributes(gql, "email:a@x.com") == {"served": "from the view"}


def test_without_a_view_attributes_are_merged_from_fragments(gql, cypher):
    ingest(gql, [record("1", "crm:C1", attributes={"tier": "gold"})])
    cypher("MATCH (v:ProfileView) DETACH DELETE v")
    assert attributes(gql, "crm:C1") == {"tier": "gold"}


def test_stitching_off_reads_the_asked_identity_not_the_primary_view(gql, cypher):
    ingest(gql, [record("1", "crm:C1", "email:a@x.com", source="crm", day=1,
                        attributes={"x": "crm"}),
                 record("2", "email:a@x.com", source="web", day=2, attributes={"x": "web"}),
                 record("3", "ecid:E1", "email:a@x.com", source="web", day=3,
                        attributes={"x": "cookie"})])
    made = create_policy(gql, "own", kind="DATASET_PRECEDENCE", sources=["crm", "web"],
                         isDefault=True)
    update_policy(gql, made["id"], name="own", stitching=False, isDefault=True)
    assert attributes(gql, "crm:C1") == {"x": "crm"}  # the primary: the view applies
    assert attributes(gql, "ecid:E1") == {"x": "cookie"}  # only fragments carrying ecid:E1
