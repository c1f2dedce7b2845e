"""Every writer goes through the one pipeline: for each, through GraphQL over HTTP against the
real Neo4j, the effect on every stage — the materialised views equal a fresh merge, computed
values are exact — and what the change feed told a `profileChanged` subscriber (kinds and
profile ids)."""

from __future__ import annotations

import contextlib
import json

import pytest

from tests.identity_helpers import ident, ingest, profile, record
from tests.materialised_helpers import assert_views_match
from tests.profile_helpers import ago, create_policy, delete_policy, event, update_policy, wait_job
from tests.test_live_updates import next_payload, open_socket, registered
from tests.test_profile_computed import computed, define

WATCH = """
subscription($identity: IdentityInput!) {
  profileChanged(identity: $identity) {
    kind profileId relatedProfileIds profile { id size attributes }
  }
}
"""
SIMULATE = """
query S($records: [RecordInput!]) {
  simulateIngest(records: $records) { accepted merges { mergedProfileId intoProfileId } }
}
"""
UNLINK = """
mutation U($a: IdentityInput!, $b: IdentityInput!) {
  unlink(identity: $a, otherIdentity: $b) { unlinked splits { profileId fromProfileIds } }
}
"""
UNLINK_SOURCE = """
mutation U($source: String!) { unlinkSource(source: $source) { unlinked } }
"""
DELETE_PROFILE = """
mutation D($identity: IdentityInput!) { deleteProfile(identity: $identity) { profiles } }
"""
DELETE_SOURCE = "mutation D($source: String!) { deleteSource(source: $source) { records } }"
REBUILD = "mutation { rebuildViews { id kind status } }"


@contextlib.contextmanager
def watching(live_api, *identities: str):
    """A WebSocket with one profileChanged subscription per identity (op id = identity), each
    registered with the change feed before the block runs."""
    with open_socket(live_api) as ws:
        for identity in identities:
            ws.send(json.dumps({"id": identity, "type": "subscribe", "payload": {
                "query": WATCH, "variables": {"identity": ident(identity)}}}))
        registered(live_api, len(identities))
        yield ws


def pushed(ws, count: int) -> dict[str, dict]:
    """The next `count` events, by the identity watched."""
    found: dict[str, dict] = {}
    while len(found) < count:
        message = json.loads(ws.recv(timeout=30))
        if message["type"] == "ping":
            ws.send(json.dumps({"type": "pong"}))
            continue
        assert message["type"] == "next", message
        assert message["id"] not in found, f"two events for {message['id']}: {message}"
        found[message["id"]] = message["payload"]["data"]["profileChanged"]
    return found


def kinds(events: dict[str, dict]) -> dict[str, tuple]:
    return {who: (e["kind"], e["profileId"], sorted(e["relatedProfileIds"]))
            for who, e in events.items()}


def sentinel(gql, *identities: str, day: int = 28) -> None:
    """A real change to each watched profile: whatever a subscriber hears first after a writer
    that must publish nothing is this one."""
    ingest(gql, [record(f"sentinel-{n}", identity, day=day, source="sentinel",
                        attributes={"sentinel": True}) for n, identity in enumerate(identities)])


def test_ingest_publishes_merged_absorbed_created_and_keeps_every_stage_exact(gql, live_api,
                                                                               cypher):
    define(gql, "spend", "SUM", "total")
    ingest(gql, [record("1", "crm:C1", "email:a@x.com", day=1, attributes={"tier": "gold"}),
                 record("2", "device:d2", "ecid:E2", day=2, source="web",
                        attributes={"tier": "x"})],
           events=[event("e1", "crm:C1", at=ago(days=2), total=5)])
    first, second = profile(gql, "crm:C1")["id"], profile(gql, "device:d2")["id"]
    with watching(live_api, "email:a@x.com", "ecid:E2", "device:new") as ws:
        ingest(gql, [record("3", "email:a@x.com", "ecid:E2", day=3, attributes={"city": "Oslo"}),
                     record("4", "device:new", day=3)],
               events=[event("e2", "ecid:E2", at=ago(days=1), total=7)])
        events = pushed(ws, 3)
    survivor = profile(gql, "crm:C1")["id"]
    retired = ({first, second} - {survivor}).pop()
    watched_retired = "email:a@x.com" if retired == first else "ecid:E2"
    watched_survivor = "ecid:E2" if retired == first else "email:a@x.com"
    created = profile(gql, "device:new")["id"]
    assert kinds(events) == {
        watched_retired: ("MERGED", survivor, [retired]),
        watched_survivor: ("ABSORBED", survivor, [retired]),
        "device:new": ("CREATED", created, [])}
    assert events[watched_survivor]["profile"]["attributes"] == {"tier": "x", "city": "Oslo"}
    assert len(assert_views_match(gql, cypher)) == 2
    assert computed(gql, "device:d2") == {"spend": 12}


def test_simulate_ingest_commits_nothing_and_publishes_nothing(gql, live_api, cypher):
    ingest(gql, [record("1", "crm:C1", day=1, attributes={"tier": "gold"}),
                 record("2", "ecid:E2", day=1)])
    before = assert_views_match(gql, cypher)
    with watching(live_api, "crm:C1") as ws:
        dry = gql(SIMULATE, {"records": [record("3", "crm:C1", "ecid:E2", day=5,
                                                attributes={"dry": True})]})["simulateIngest"]
        assert dry["accepted"] == 1 and len(dry["merges"]) == 1  # the stages ran
        assert assert_views_match(gql, cypher) == before
        sentinel(gql, "crm:C1")
        first = pushed(ws, 1)["crm:C1"]
    assert first["kind"] == "UPDATED"
    assert first["profile"]["attributes"] == {"tier": "gold", "sentinel": True}


def test_unlink_publishes_the_split_on_both_sides(gql, live_api, cypher):
    define(gql, "orders", "COUNT")
    ingest(gql, [record("1", "email:a@x.com", "ecid:E1", source="web", day=2,
                        attributes={"city": "Oslo"}),
                 record("2", "ecid:E1", "crm:C1", day=1, attributes={"city": "Bergen"})],
           events=[event("e1", "email:a@x.com", at=ago(days=1)),
                   event("e2", "crm:C1", at=ago(days=1))])
    old = profile(gql, "crm:C1")["id"]
    with watching(live_api, "email:a@x.com", "crm:C1") as ws:
        done = gql(UNLINK, {"a": ident("ecid:E1"), "b": ident("crm:C1")})["unlink"]
        events = pushed(ws, 2)
    [split] = done["splits"]
    new = split["profileId"]
    kept_side = "email:a@x.com" if profile(gql, "email:a@x.com")["id"] == old else "crm:C1"
    new_side = ({"email:a@x.com", "crm:C1"} - {kept_side}).pop()
    assert kinds(events) == {kept_side: ("SPLIT", old, [new]), new_side: ("SPLIT", new, [old])}
    assert len(assert_views_match(gql, cypher)) == 2
    assert computed(gql, "crm:C1") == {"orders": 1} == computed(gql, "email:a@x.com")


def test_unlink_source_splits_what_only_that_source_held_together(gql, live_api, cypher):
    ingest(gql, [record("1", "crm:C1", day=1, attributes={"x": 1}),
                 record("2", "crm:C1", "ecid:E1", day=2, source="web", attributes={"y": 2})])
    old = profile(gql, "crm:C1")["id"]
    with watching(live_api, "crm:C1", "ecid:E1") as ws:
        assert gql(UNLINK_SOURCE, {"source": "web"})["unlinkSource"]["unlinked"] == 1
        events = pushed(ws, 2)
    new = ({profile(gql, "crm:C1")["id"], profile(gql, "ecid:E1")["id"]} - {old}).pop()
    assert {e[0] for e in kinds(events).values()} == {"SPLIT"}
    assert {(e[1], tuple(e[2])) for e in kinds(events).values()} == {(old, (new,)),
                                                                      (new, (old,))}
    assert len(assert_views_match(gql, cypher)) == 2


def test_delete_profile_publishes_deleted_and_leaves_no_view(gql, live_api, cypher):
    define(gql, "orders", "COUNT")
    ingest(gql, [record("1", "crm:C1", "email:a@x.com", attributes={"x": 1}),
                 record("2", "crm:C2", attributes={"y": 2})],
           events=[event("e1", "crm:C1", at=ago(days=1)), event("e2", "crm:C2", at=ago(days=1))])
    gone = profile(gql, "crm:C1")["id"]
    with watching(live_api, "email:a@x.com") as ws:
        gql(DELETE_PROFILE, {"identity": ident("crm:C1")})
        events = pushed(ws, 1)
    assert kinds(events) == {"email:a@x.com": ("DELETED", gone, [])}
    assert len(assert_views_match(gql, cypher)) == 1
    assert computed(gql, "crm:C2") == {"orders": 1}


def test_delete_source_publishes_deleted_and_updated(gql, live_api, cypher):
    define(gql, "spend", "SUM", "total")
    ingest(gql, [record("1", "crm:C1", "email:a@x.com", source="crm", attributes={"t": "crm"}),
                 record("2", "email:a@x.com", source="web", day=2, attributes={"t": "web"}),
                 record("3", "ecid:E9", source="web", day=2)],
           events=[event("e1", "crm:C1", at=ago(days=1), source="web", total=4),
                   event("e2", "crm:C1", at=ago(days=1), source="crm", total=3)])
    kept, gone = profile(gql, "crm:C1")["id"], profile(gql, "ecid:E9")["id"]
    with watching(live_api, "crm:C1", "ecid:E9") as ws:
        gql(DELETE_SOURCE, {"source": "web"})
        events = pushed(ws, 2)
    assert kinds(events) == {"crm:C1": ("UPDATED", kept, []), "ecid:E9": ("DELETED", gone, [])}
    assert events["crm:C1"]["profile"]["attributes"] == {"t": "crm"}
    assert len(assert_views_match(gql, cypher)) == 1
    assert computed(gql, "crm:C1") == {"spend": 3}


def test_default_policy_changes_run_a_job_that_rebuilds_every_view(gql, live_api, cypher):
    ingest(gql, [record("1", "crm:C1", source="crm", day=1, attributes={"x": "crm"}),
                 record("2", "crm:C1", source="web", day=2, attributes={"x": "web"})])
    mine = profile(gql, "crm:C1")["id"]
    with watching(live_api, "crm:C1") as ws:
        made = create_policy(gql, "crm first", kind="DATASET_PRECEDENCE",
                             sources=["crm", "web"], isDefault=True)
        events = pushed(ws, 1)
    assert kinds(events) == {"crm:C1": ("UPDATED", mine, [])}
    assert events["crm:C1"]["profile"]["attributes"] == {"x": "crm"}
    views = assert_views_match(gql, cypher)
    assert [(v["_policy"], v["x"]) for v in views] == [(made["id"], "crm")]
    update_policy(gql, made["id"], name="crm first", kind="DATASET_PRECEDENCE",
                  sources=["web", "crm"], isDefault=True)
    assert [v["x"] for v in assert_views_match(gql, cypher)] == ["web"]
    delete_policy(gql, made["id"])
    assert [v["_policy"] for v in assert_views_match(gql, cypher)] == ["default"]


def test_a_policy_that_is_not_the_default_starts_no_job(gql):
    made = gql("""mutation { createMergePolicy(input: {name: "other"}) { policy { id } job { id }
                 } }""")["createMergePolicy"]
    assert made["job"] is None


def test_a_computed_definition_is_backfilled_by_a_job_and_publishes_nothing(gql, live_api,
                                                                           cypher):
    ingest(gql, [record("1", "crm:C1", "email:a@x.com")],
           events=[event("e1", "crm:C1", at=ago(days=2), total=5),
                   event("e2", "email:a@x.com", at=ago(days=1), total=2),
                   event("e3", "crm:C1", "email:a@x.com", at=ago(days=1), total=1),
                   event("old", "crm:C1", at=ago(days=40), total=100)])
    with watching(live_api, "crm:C1") as ws:
        define(gql, "spend", "SUM", "total")
        sentinel(gql, "crm:C1")
        assert pushed(ws, 1)["crm:C1"]["profile"]["attributes"] == {"sentinel": True}
    assert computed(gql, "crm:C1") == {"spend": 8}
    assert_views_match(gql, cypher)


def test_rebuild_views_is_a_job_and_repairs_views(gql, live_api, cypher):
    ingest(gql, [record("1", "crm:C1", attributes={"x": 1}), record("2", "crm:C2")])
    cypher("MATCH (v:ProfileView) SET v._json = '{}', v.x = 0")
    with watching(live_api, "crm:C1") as ws:
        job = gql(REBUILD)["rebuildViews"]
        assert job["kind"] == "view_rebuild"
        assert wait_job(gql, job)["status"] == "SUCCEEDED"
        assert kinds(pushed(ws, 1)) == {"crm:C1": ("UPDATED", profile(gql, "crm:C1")["id"], [])}
    assert len(assert_views_match(gql, cypher)) == 2


@pytest.mark.parametrize("writer", ["ingest", "deleteSource"])
def test_every_committed_writer_publishes_once_per_transaction(gql, live_api, writer):
    """One pipeline write, one publication: a subscriber hears one event per change."""
    ingest(gql, [record("1", "crm:C1", source="a"), record("2", "crm:C1", source="b")])
    with watching(live_api, "crm:C1") as ws:
        if writer == "ingest":
            ingest(gql, [record("3", "crm:C1", source="c")])
        else:
            gql(DELETE_SOURCE, {"source": "b"})
        sentinel(gql, "crm:C1")
        assert pushed(ws, 1)["crm:C1"]["kind"] == "UPDATED"
        second = next_payload(ws)["data"]["profileChanged"]
        assert second["profile"]["attributes"] == {"sentinel": True}
