"""Bounded re-clustering: an identity linked to thousands of others (refused links) makes a
component too large to re-cluster on every ingest that touches it; such items are rejected
with COMPONENT_TOO_LARGE, the rest of the call goes in, and links that cannot change a
clustering are not read at all."""

from __future__ import annotations

import pytest

from idgraph.identity.linking import PairEvidence, cluster_component
from tests.api_support import api_server, codes, post
from tests.identity_helpers import INGEST, ident, ingest, record

HUB_LINKS = 2_000
LIMIT = 1_000
UNLINK = """mutation($a: IdentityInput!, $b: IdentityInput!) {
  unlink(identity: $a, otherIdentity: $b) { unlinked } }"""


@pytest.fixture
def capped(neo4j_server):
    with api_server(neo4j_server, max_component_identities=LIMIT) as server:
        yield server


def build_hub(gql, hub: str, refused: int = HUB_LINKS - 1) -> None:
    """`hub` paired with HUB_LINKS identities of the unique namespace crm, one record each: one
    link joins (none when the hub is a crm id itself), the others are refused."""
    done = ingest(gql, [record(str(n), hub, f"crm:C{n}") for n in range(HUB_LINKS)])
    assert done["accepted"] == HUB_LINKS and len(done["refusedLinks"]) == refused


def test_items_touching_a_component_over_the_limit_are_rejected(gql, capped, cypher):
    build_hub(gql, "device:hub")
    # a new crm id may take the hub from its profile (newest evidence wins): a re-clustering
    records = [record("touching", "device:hub", "crm:new"),
               record("apart", "crm:X1", "email:apart@x.com")]
    body = post(capped.url, INGEST, {"records": records}).json()
    done = body["data"]["ingest"]
    assert done["accepted"] == 1 and done["rejected"] == 1
    assert [(e["kind"], e["index"], e["code"]) for e in done["errors"]] == [
        ("RECORD", 0, "COMPONENT_TOO_LARGE")]
    assert "IDGRAPH_MAX_COMPONENT_IDENTITIES" in done["errors"][0]["message"]
    stored = cypher("MATCH (r:Record) WHERE r.recordId IN ['touching', 'apart'] "
                    "RETURN r.recordId AS id")
    assert stored == [{"id": "apart"}]  # nothing of the rejected item was kept
    assert cypher("MATCH (i:Identity {key: 'crm:new'}) RETURN count(i) AS n") == [{"n": 0}]


def test_new_identities_only_joining_the_hubs_profile_need_no_re_clustering(gql, capped, cypher):
    # A join (identity/joining.py) reads nothing of the component, so the limit on what
    # re-clustering reads does not stand in its way.
    build_hub(gql, "device:hub")
    body = post(capped.url, INGEST, {"records": [
        record("joining", "device:hub", "email:new@x.com")]}).json()
    assert body["data"]["ingest"]["accepted"] == 1, body
    members = cypher("MATCH (:Identity {key: 'device:hub'})-[:IN_PROFILE]->(p) "
                     "MATCH (p)<-[:IN_PROFILE]-(i) RETURN p.size AS size, collect(i.key) AS keys")
    assert members[0]["size"] == 3
    assert sorted(members[0]["keys"]) == ["crm:C0", "device:hub", "email:new@x.com"]


def test_an_unlink_in_such_a_component_is_a_clear_error(gql, capped):
    build_hub(gql, "device:hub")
    body = post(capped.url, UNLINK, {"a": ident("device:hub"), "b": ident("crm:C0")}).json()
    assert codes(body) == ["COMPONENT_TOO_LARGE"]


def test_links_no_clustering_can_change_are_not_read(gql, capped):
    # crm is unique: a link between two crm ids is refused whatever else happens, so the
    # 2,000 of them do not count towards the limit.
    build_hub(gql, "crm:hub", refused=HUB_LINKS)
    body = post(capped.url, INGEST, {"records": [
        record("more", "crm:hub", "email:hub@x.com")]}).json()
    assert body["data"]["ingest"]["accepted"] == 1, body


def test_a_refused_link_can_become_active_through_evidence_elsewhere():
    # Why refused links in general are still read (docs/identity.md): new evidence between
    # crm:a and loyalty:l1 refuses the link device:h - crm:a, which frees device:h to take
    # crm:b over the link that was refused until then.
    unique = {"crm", "loyalty"}.__contains__
    identities = ["device:h", "crm:a", "crm:b", "loyalty:l1", "loyalty:l2"]
    before = [PairEvidence("crm:a", "device:h", 5), PairEvidence("crm:b", "device:h", 3),
              PairEvidence("device:h", "loyalty:l2", 7)]
    after = [*before, PairEvidence("crm:a", "loyalty:l1", 10)]
    assert cluster_component(identities, before, unique, 50).decisions[
        ("crm:b", "device:h")].status == "refused"
    assert cluster_component(identities, after, unique, 50).decisions[
        ("crm:b", "device:h")].status == "active"
